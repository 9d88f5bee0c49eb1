with catalogue as (
    select * from {{ ref('products') }}
),

transactions as (
    select * from {{ ref('slv_commerce__transactions') }}
),

sales as (
    select * from {{ ref('slv_commerce__sales') }}
),

-- The stream names every product it sells; the latest name wins for products the catalogue lacks.
streamed as (
    select
        product_id,
        max_by(product_name, sold_at) as product_name,
        max_by(category, sold_at) as category,
        min(sold_at) as first_sold_at
    from sales
    group by product_id
),

exported as (
    select
        product_id,
        min(transaction_at) as first_sold_at
    from transactions
    group by product_id
),

product_ids as (
    select product_id from catalogue
    union
    select product_id from streamed
    union
    select product_id from exported
),

final as (
    select
        product_ids.product_id,
        coalesce(
            trim(catalogue.product_name),
            streamed.product_name,
            concat('product ', cast(product_ids.product_id as string))
        )
            as product_name,
        coalesce(trim(catalogue.category), streamed.category, 'Non classé') as category,
        cast(catalogue.list_price as decimal(18, 2)) as list_price,
        catalogue.currency as list_price_currency_code,
        catalogue.launched_on,
        catalogue.product_id is not null as is_in_catalogue,
        least(streamed.first_sold_at, exported.first_sold_at) as first_sold_at
    from product_ids
    left join catalogue on product_ids.product_id = catalogue.product_id
    left join streamed on product_ids.product_id = streamed.product_id
    left join exported on product_ids.product_id = exported.product_id
)

select * from final
