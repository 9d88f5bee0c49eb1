with transactions as (
    select * from {{ ref('slv_commerce__transactions') }}
),

sales as (
    select * from {{ ref('slv_commerce__sales') }}
),

unioned as (
    select
        concat('T-', transaction_id) as order_line_id,
        'export' as channel,
        customer_id,
        product_id,
        transaction_at as ordered_at,
        quantity,
        unit_price_eur,
        amount_eur,
        currency_code,
        amount,
        country_code,
        status
    from transactions

    union all

    select
        concat('S-', cast(sale_id as string)) as order_line_id,
        'stream' as channel,
        customer_id,
        product_id,
        sold_at as ordered_at,
        quantity,
        unit_price_eur,
        amount_eur,
        'EUR' as currency_code,
        amount_eur as amount,
        country_code,
        'completed' as status
    from sales
),

final as (
    select
        cast(order_line_id as string) as order_line_id,
        cast(channel as string) as channel,
        cast(customer_id as bigint) as customer_id,
        cast(product_id as bigint) as product_id,
        cast(ordered_at as timestamp) as ordered_at,
        cast(ordered_at as date) as order_date,
        cast(quantity as bigint) as quantity,
        cast(unit_price_eur as decimal(18, 4)) as unit_price_eur,
        cast(amount_eur as decimal(18, 2)) as amount_eur,
        cast(currency_code as string) as currency_code,
        cast(amount as decimal(18, 2)) as amount,
        cast(country_code as string) as country_code,
        cast(status as string) as status,
        status = 'completed' as is_revenue
    from unioned
)

select * from final
