with source as (
    select * from {{ source('bronze', 'water_sites') }}
),

cleaned as (
    select
        upper(trim(source.site_id)) as site_id,
        trim(source.site_name) as site_name,
        coalesce(nullif(trim(source.region), ''), 'unknown') as region,
        source.latitude,
        source.longitude,
        coalesce(nullif(lower(trim(source.water_body_type)), ''), 'unknown') as water_body_type,
        {{ lineage_columns('file', 'source') }}
    from source
),

final as (
    select
        *,
        case
            when {{ is_blank('site_id') }} then 'site_id is empty'
            when latitude not between -90 and 90 then concat('latitude ', cast(latitude as string), ' is out of range')
            when longitude not between -180 and 180
                then concat('longitude ', cast(longitude as string), ' is out of range')
        end as reject_reason
    from cleaned
)

select * from final
