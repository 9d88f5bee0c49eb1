{{ config(unique_key='measurement_id') }}

with validated as (
    select * from {{ ref('stg_water_quality__measurements') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'measurement_id', '_kafka_partition, _kafka_offset') }}
),

final as (
    select
        measurement_id,
        sample_id,
        site_id,
        method_id,
        sample_date,
        cast(date_trunc('month', sample_date) as date) as sample_month,
        parameter,
        reported_value,
        reported_unit,
        value,
        unit,
        detection_limit,
        is_below_detection_limit,
        lab_flag,
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'measurement_id') }}
)

select * from final
