{{ config(unique_key='event_id') }}

with validated as (
    select * from {{ ref('stg_device_events__events') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'event_id', '_kafka_partition, _kafka_offset') }}
),

final as (
    select
        event_id,
        device_id,
        device_type,
        event_type,
        value,
        event_at,
        date_trunc('minute', event_at) as event_minute,
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'event_id') }}
)

select * from final
