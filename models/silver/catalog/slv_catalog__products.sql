with source as (

    select * from {{ ref('products') }}

),

cleaned as (

    select
        cast(product_id as int) as product_id,
        trim(product_name) as product_name,
        trim(category) as category,
        cast(list_price as decimal(12, 2)) as list_price,
        upper(trim(currency)) as currency,
        cast(launched_on as date) as launched_on
    from source

),

final as (

    select * from cleaned

)

select * from final
