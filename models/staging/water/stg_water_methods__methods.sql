with source as (
    select * from {{ source('bronze', 'water_methods') }}
),

cleaned as (
    select
        upper(trim(source.method_id)) as method_id,
        lower(trim(source.parameter)) as parameter,
        trim(source.unit) as unit,
        nullif(trim(source.analytical_method), '') as analytical_method,
        -- A method without a stated limit detects anything above zero.
        coalesce(source.detection_limit, 0) as detection_limit,
        {{ lineage_columns('file', 'source') }}
    from source
),

final as (
    select
        *,
        case
            when {{ is_blank('method_id') }} then 'method_id is empty'
            when detection_limit < 0 then concat('detection_limit ', cast(detection_limit as string), ' is negative')
        end as reject_reason
    from cleaned
)

select * from final
