with source as (
    select * from {{ source('bronze', 'water_quality') }}
),

sites as (
    select * from {{ ref('slv_water__sites') }}
),

methods as (
    select * from {{ ref('slv_water__methods') }}
),

ranges as (
    select * from {{ ref('water_quality_ranges') }}
),

cleaned as (
    select
        nullif(upper(trim(source.sample_id)), '') as sample_id,
        upper(trim(source.site_id)) as site_id,
        upper(trim(source.method_id)) as method_id,
        source.sample_date,
        lower(trim(source.parameter)) as parameter,
        source.value as reported_value,
        -- A station that leaves the unit out reports in the method's unit.
        coalesce(nullif(trim(source.unit), ''), methods.unit) as reported_unit,
        nullif(lower(trim(source.flags)), '') as lab_flag,
        methods.method_id as known_method_id,
        methods.parameter as method_parameter,
        methods.unit as method_unit,
        methods.detection_limit,
        sites.site_id as known_site_id,
        {{ lineage_columns('kafka', 'source') }}
    from source
    left join sites on upper(trim(source.site_id)) = sites.site_id
    left join methods on upper(trim(source.method_id)) = methods.method_id
),

converted as (
    select
        cleaned.*,
        {{ convert_unit('cleaned.reported_value', 'cleaned.reported_unit', 'cleaned.method_unit') }} as value,
        ranges.min_value as possible_min,
        ranges.max_value as possible_max
    from cleaned
    left join ranges on cleaned.parameter = ranges.parameter and cleaned.method_unit = ranges.unit
),

final as (
    select
        -- Equal values are not the same sample (two samples under the detection limit often carry the
        -- same value): only the laboratory's sample code identifies one; without it, each message does.
        coalesce(concat(sample_id, '/', parameter), _record_position) as measurement_id,
        sample_id,
        site_id,
        method_id,
        sample_date,
        parameter,
        reported_value,
        reported_unit,
        value,
        method_unit as unit,
        detection_limit,
        value < detection_limit as is_below_detection_limit,
        lab_flag,
        case
            when known_site_id is null then concat('site_id "', site_id, '" is not a known site')
            when known_method_id is null then concat('method_id "', method_id, '" is not a known method')
            when parameter != method_parameter
                then concat(
                        'parameter "', parameter, '" does not match method ', method_id, ' (', method_parameter, ')'
                    )
            when value is null
                then concat('unit "', reported_unit, '" does not convert to the method unit "', method_unit, '"')
            when value < 0 and parameter != 'temperature' then concat('negative ', parameter, ' value')
            when value < possible_min or value > possible_max
                then concat(
                        parameter, ' ', cast(value as string), ' ', method_unit, ' is physically impossible (',
                        cast(possible_min as string), ' to ', cast(possible_max as string), ')'
                    )
        end as reject_reason,
        {{ lineage_columns('kafka') }}
    from converted
)

select * from final
