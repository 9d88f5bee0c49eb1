with validated as (
    select * from {{ ref('stg_water_sites__sites') }}
    where reject_reason is null
),

-- Reference data: a newer workbook replaces the rows of the older one.
latest as (
    select
        *,
        row_number() over (partition by site_id order by _ingested_at desc, _source_line asc) as version_rank
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
        {{ lineage_columns('kept') }}
    from latest
    where version_rank = 1
)

select * from final
