with daily as (
    select * from {{ ref('agg_sales_by_product_day') }}
),

final as (
    select
        cast(product_id as bigint) as product_id,
        cast(max(product_name) as string) as product_name,
        cast(max(category) as string) as category,
        cast(sum(order_lines) as bigint) as order_lines,
        cast(sum(quantity) as bigint) as quantity,
        cast(sum(revenue_eur) as decimal(18, 2)) as revenue_eur,
        cast(min(order_date) as date) as first_sale_date,
        cast(max(order_date) as date) as last_sale_date
    from daily
    group by product_id
)

select * from final
