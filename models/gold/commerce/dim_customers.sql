with transactions as (
    select * from {{ ref('slv_commerce__transactions') }}
),

sales as (
    select * from {{ ref('slv_commerce__sales') }}
),

purchases as (
    select
        customer_id,
        transaction_at as purchased_at,
        country_code,
        'export' as channel
    from transactions
    union all
    select
        customer_id,
        sold_at as purchased_at,
        country_code,
        'stream' as channel
    from sales
),

-- Only the stream knows names and segments; the latest message wins.
profiles as (
    select
        customer_id,
        max_by(customer_name, sold_at) as customer_name,
        max_by(customer_segment, sold_at) as customer_segment
    from sales
    group by customer_id
),

activity as (
    select
        customer_id,
        max_by(country_code, purchased_at) as country_code,
        min(purchased_at) as first_seen_at,
        max(purchased_at) as last_seen_at,
        max(channel = 'export') as is_in_exports,
        max(channel = 'stream') as is_in_stream
    from purchases
    group by customer_id
),

final as (
    select
        activity.customer_id,
        coalesce(profiles.customer_name, concat('customer ', cast(activity.customer_id as string))) as customer_name,
        coalesce(profiles.customer_segment, 'Inconnu') as customer_segment,
        activity.country_code,
        activity.first_seen_at,
        activity.last_seen_at,
        activity.is_in_exports,
        activity.is_in_stream
    from activity
    left join profiles on activity.customer_id = profiles.customer_id
)

select * from final
