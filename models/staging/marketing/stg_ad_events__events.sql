with source as (
    select * from {{ source('bronze', 'ad_events') }}
),

cleaned as (
    select
        trim(source.event_id) as event_id,
        upper(trim(source.campaign_id)) as campaign_id,
        upper(trim(source.ad_id)) as ad_id,
        lower(trim(source.event_type)) as event_type,
        nullif(trim(source.user_id), '') as user_id,
        -- The ad server leaves the cost out when an event is not billed.
        cast(coalesce(source.cost, 0) as decimal(18, 4)) as cost_eur,
        source.event_at,
        {{ lineage_columns('kafka', 'source') }}
    from source
),

final as (
    select
        *,
        case
            when {{ is_blank('event_id') }} then 'event_id is empty'
            when event_type not in ('impression', 'click')
                then concat('event_type "', event_type, '" is neither impression nor click')
            when cost_eur < 0 then concat('cost ', cast(cost_eur as string), ' is negative')
        end as reject_reason
    from cleaned
)

select * from final
