with device_events as (
    select * from {{ ref('slv_devices__events') }}
),

final as (
    select
        cast(event_minute as timestamp) as event_minute,
        cast(device_type as string) as device_type,
        cast(event_type as string) as event_type,
        cast(count(*) as bigint) as events,
        cast(count(distinct device_id) as bigint) as devices,
        cast({{ exact_mean('value', 3) }} as double) as avg_value
    from device_events
    group by event_minute, device_type, event_type
)

select * from final
