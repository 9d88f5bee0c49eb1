with products as (

    select * from {{ ref('slv_catalog__products') }}

),

final as (

    select
        category,
        currency,
        cast(count(*) as bigint) as product_count,
        cast(min(list_price) as decimal(12, 2)) as min_list_price,
        cast(max(list_price) as decimal(12, 2)) as max_list_price,
        cast(avg(list_price) as decimal(12, 2)) as avg_list_price
    from products
    group by category, currency

)

select * from final
