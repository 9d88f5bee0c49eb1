{{ config(unique_key='event_id') }}

with validated as (
    select * from {{ ref('stg_ad_events__events') }}
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
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'event_id') }}
)

select * from final
