with measurements as (
    select * from {{ ref('slv_water__measurements') }}
),

sites as (
    select * from {{ ref('slv_water__sites') }}
),

thresholds as (
    select * from {{ ref('water_quality_thresholds') }}
),

final as (
    select
        cast(measurements.site_id as string) as site_id,
        cast(sites.site_name as string) as site_name,
        cast(measurements.method_id as string) as method_id,
        cast(measurements.parameter as string) as parameter,
        cast(measurements.unit as string) as unit,
        cast(measurements.sample_month as date) as sample_month,
        cast(count(*) as bigint) as samples,
        cast({{ exact_mean('measurements.value', 4) }} as double) as mean_value,
        cast(min(measurements.value) as double) as min_value,
        cast(max(measurements.value) as double) as max_value,
        cast(count_if(measurements.is_below_detection_limit) as bigint) as samples_below_detection_limit,
        cast(max(thresholds.lower_threshold_value) as double) as lower_threshold_value,
        cast(max(thresholds.threshold_value) as double) as threshold_value,
        cast(count_if(measurements.value < thresholds.lower_threshold_value) as bigint) as samples_under_threshold,
        cast(count_if(measurements.value > thresholds.threshold_value) as bigint) as samples_over_threshold,
        -- Parameters without a limit have no exceedance share.
        cast(
            case when max(thresholds.threshold_value) is not null
                    then round(count_if(measurements.value > thresholds.threshold_value) / count(*), 4)
            end as double
        ) as share_over_threshold,
        cast(
            case
                when max(thresholds.threshold_value) is not null or max(thresholds.lower_threshold_value) is not null
                    then round(
                            count_if(
                                measurements.value > thresholds.threshold_value
                                or measurements.value < thresholds.lower_threshold_value
                            ) / count(*),
                            4
                        )
            end as double
        ) as share_outside_thresholds
    from measurements
    inner join sites on measurements.site_id = sites.site_id
    left join thresholds on measurements.parameter = thresholds.parameter and measurements.unit = thresholds.unit
    group by
        measurements.site_id, sites.site_name, measurements.method_id, measurements.parameter,
        measurements.unit, measurements.sample_month
)

select * from final
