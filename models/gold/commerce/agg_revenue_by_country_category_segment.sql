with order_lines as (
    select * from {{ ref('fct_order_lines') }}
    where is_revenue
),

products as (
    select * from {{ ref('dim_products') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
),

countries as (
    select * from {{ ref('countries') }}
),

final as (
    select
        cast(order_lines.country_code as string) as country_code,
        cast(countries.country_name as string) as country_name,
        cast(products.category as string) as category,
        cast(customers.customer_segment as string) as customer_segment,
        cast(count(*) as bigint) as order_lines,
        cast(count(distinct order_lines.customer_id) as bigint) as customers,
        cast(sum(order_lines.amount_eur) as decimal(18, 2)) as revenue_eur
    from order_lines
    inner join products on order_lines.product_id = products.product_id
    inner join customers on order_lines.customer_id = customers.customer_id
    left join countries on order_lines.country_code = countries.country_code
    group by order_lines.country_code, countries.country_name, products.category, customers.customer_segment
)

select * from final
