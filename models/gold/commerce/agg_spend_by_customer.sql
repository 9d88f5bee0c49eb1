{#-
    Loyalty rule: a customer is loyal with at least `loyalty_min_purchases` purchases and a total
    spend of at least `loyalty_min_spend_eur` euros (both project vars). A purchase is one completed
    order line, from the exports or the stream.
-#}
with order_lines as (
    select * from {{ ref('fct_order_lines') }}
    where is_revenue
),

customers as (
    select * from {{ ref('dim_customers') }}
),

spend as (
    select
        customer_id,
        count(*) as purchase_count,
        sum(amount_eur) as total_spend_eur,
        min(ordered_at) as first_purchase_at,
        max(ordered_at) as last_purchase_at
    from order_lines
    group by customer_id
),

final as (
    select
        cast(spend.customer_id as bigint) as customer_id,
        cast(customers.customer_name as string) as customer_name,
        cast(customers.customer_segment as string) as customer_segment,
        cast(spend.purchase_count as bigint) as purchase_count,
        cast(spend.total_spend_eur as decimal(18, 2)) as total_spend_eur,
        cast(round(spend.total_spend_eur / spend.purchase_count, 2) as decimal(18, 2)) as avg_basket_eur,
        cast(spend.first_purchase_at as timestamp) as first_purchase_at,
        cast(spend.last_purchase_at as timestamp) as last_purchase_at,
        (
            spend.purchase_count >= {{ var('loyalty_min_purchases') }}
            and spend.total_spend_eur >= {{ var('loyalty_min_spend_eur') }}
        ) as is_loyal
    from spend
    left join customers on spend.customer_id = customers.customer_id
)

select * from final
