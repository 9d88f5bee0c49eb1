with source as (
    select * from {{ source('bronze', 'device_events') }}
),

cleaned as (
    select
        -- Devices send no event id: one device reports one event of a type per instant.
        sha2(
            concat_ws(
                '|', upper(trim(source.device_id)), lower(trim(source.event_type)), cast(source.event_at as string)
            ),
            256
        )
            as event_id,
        upper(trim(source.device_id)) as device_id,
        lower(trim(source.device_type)) as device_type,
        lower(trim(source.event_type)) as event_type,
        source.value,
        source.event_at,
        {{ lineage_columns('kafka', 'source') }}
    from source
),

final as (
    select
        *,
        case
            when {{ is_blank('device_id') }} then 'device_id is empty'
            when {{ is_blank('device_type') }} then 'device_type is empty'
            when {{ is_blank('event_type') }} then 'event_type is empty'
        end as reject_reason
    from cleaned
)

select * from final
