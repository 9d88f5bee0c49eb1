with order_lines as (
    select * from {{ ref('fct_order_lines') }}
    where is_revenue
),

products as (
    select * from {{ ref('dim_products') }}
),

daily as (
    select
        product_id,
        order_date,
        count(*) as order_lines,
        sum(quantity) as quantity,
        sum(amount_eur) as revenue_eur
    from order_lines
    group by product_id, order_date
),

final as (
    select
        cast(daily.product_id as bigint) as product_id,
        cast(products.product_name as string) as product_name,
        cast(products.category as string) as category,
        cast(daily.order_date as date) as order_date,
        cast(daily.order_lines as bigint) as order_lines,
        cast(daily.quantity as bigint) as quantity,
        cast(daily.revenue_eur as decimal(18, 2)) as revenue_eur
    from daily
    inner join products on daily.product_id = products.product_id
)

select * from final
