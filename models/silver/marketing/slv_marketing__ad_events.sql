{{ config(materialized='incremental', unique_key='event_id') }}

with validated as (
    select * from {{ ref('int_ad_events_validated') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'event_id', '_kafka_partition, _kafka_offset') }}
),

final as (
    select
        event_id,
        campaign_id,
        ad_id,
        event_type,
        user_id,
        cost_eur,
        event_at,
        cast(event_at as date) as event_date,
        _record_position,
        _batch_id,
        _ingested_at
    from deduplicated
    {{ not_yet_kept('deduplicated', 'event_id') }}
)

select * from final
