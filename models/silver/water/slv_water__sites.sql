with validated as (
    select * from {{ ref('int_water_sites_validated') }}
    where reject_reason is null
),

-- Reference data: a newer workbook replaces the rows of the older one.
latest as (
    select
        *,
        row_number() over (partition by site_id order by _ingested_at desc, _source_line) as version_rank
    from validated
),

final as (
    select
        site_id,
        site_name,
        region,
        latitude,
        longitude,
        water_body_type,
        _record_position,
        _batch_id,
        _ingested_at
    from latest
    where version_rank = 1
)

select * from final
