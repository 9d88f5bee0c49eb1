-- Water: sites and methods from the newest workbook that lists them; values in the method's unit.
create or replace table v_sites as
select upper(trim(jf(doc, 'site_id'))) as site_id, trim(jf(doc, 'site_name')) as site_name
from raw_sites
where blank(jf(doc, 'site_id')) is not null and blank(jf(doc, 'site_name')) is not null
    and as_double(jf(doc, 'latitude')) between -90 and 90 and as_double(jf(doc, 'longitude')) between -180 and 180
qualify row_number() over (partition by upper(trim(jf(doc, 'site_id'))) order by file_order desc, row_number) = 1;

create or replace table v_methods as
select upper(trim(jf(doc, 'method_id'))) as method_id, lower(trim(jf(doc, 'parameter'))) as parameter,
    trim(jf(doc, 'unit')) as unit, coalesce(as_double(jf(doc, 'detection_limit')), 0) as detection_limit
from raw_methods
where blank(jf(doc, 'method_id')) is not null and blank(jf(doc, 'parameter')) is not null
    and blank(jf(doc, 'unit')) is not null
    and (blank(jf(doc, 'detection_limit')) is null or as_double(jf(doc, 'detection_limit')) >= 0)
qualify row_number() over (partition by upper(trim(jf(doc, 'method_id'))) order by file_order desc, row_number) = 1;

create or replace table v_measurements as
with typed as (
    select r.partition, r."offset", r.doc, m.method_id, m.parameter as method_parameter, m.unit, m.detection_limit,
        s.site_id, lower(trim(jf(r.doc, 'parameter'))) as parameter, as_double(jf(r.doc, 'value')) as reported,
        coalesce(blank(jf(r.doc, 'unit')), m.unit) as reported_unit
    from raw_water_quality as r
    left join v_methods as m on upper(trim(jf(r.doc, 'method_id'))) = m.method_id
    left join v_sites as s on upper(trim(jf(r.doc, 'site_id'))) = s.site_id
    where r.doc is not null and blank(jf(r.doc, 'site_id')) is not null
        and blank(jf(r.doc, 'method_id')) is not null and blank(jf(r.doc, 'parameter')) is not null
        and as_double(jf(r.doc, 'value')) is not null
        and coalesce(try_cast(trim(jf(r.doc, 'sample_date')) as date), try_cast(as_time(jf(r.doc, 'sample_date')) as date)) is not null
),
converted as (
    select *,
        case
            when lower(replace(reported_unit, ' ', '')) = lower(replace(unit, ' ', '')) then reported
            when lower(reported_unit) in ('µg/l', 'ug/l') and lower(unit) = 'mg/l' then reported / 1000
            when lower(reported_unit) = 'mg/l' and lower(unit) in ('µg/l', 'ug/l') then reported * 1000
            when lower(reported_unit) = 'g/l' and lower(unit) = 'mg/l' then reported * 1000
            when reported_unit in ('°F', 'F') and unit = '°C' then (reported - 32) * 5 / 9
            when reported_unit = 'K' and unit = '°C' then reported - 273.15
        end as value,
        coalesce(upper(blank(jf(doc, 'sample_id'))) || '/' || parameter,
            'water_quality/' || partition || '@' || "offset") as measurement_id,
        coalesce(try_cast(trim(jf(doc, 'sample_date')) as date), try_cast(as_time(jf(doc, 'sample_date')) as date)) as sample_date
    from typed
    where site_id is not null and method_id is not null and parameter = method_parameter
)
select c.* from converted as c
left join seed_water_quality_ranges as r on c.parameter = r.parameter and c.unit = r.unit
where value is not null and not (value < 0 and c.parameter != 'temperature')
    and (r.parameter is null or value between r.min_value and r.max_value)
qualify row_number() over (partition by measurement_id order by partition, "offset") = 1;

create or replace table v_agg_water_quality_by_site_parameter_month as
select m.site_id, s.site_name, m.method_id, m.parameter, m.unit, date_trunc('month', m.sample_date)::date as sample_month,
    count(*) as samples, half_up(sum(m.value::decimal(38, 12))::varchar, count(*), 4) as mean_value,
    min(m.value) as min_value, max(m.value) as max_value,
    count(*) filter (where m.value < m.detection_limit) as samples_below_detection_limit,
    max(t.lower_threshold_value) as lower_threshold_value, max(t.threshold_value) as threshold_value,
    count(*) filter (where m.value < t.lower_threshold_value) as samples_under_threshold,
    count(*) filter (where m.value > t.threshold_value) as samples_over_threshold,
    case when max(t.threshold_value) is not null
        then half_up((count(*) filter (where m.value > t.threshold_value))::varchar, count(*), 4) end as share_over_threshold,
    case when max(t.threshold_value) is not null or max(t.lower_threshold_value) is not null
        then half_up((count(*) filter (where m.value > t.threshold_value or m.value < t.lower_threshold_value))::varchar,
                     count(*), 4) end as share_outside_thresholds
from v_measurements as m
join v_sites as s on m.site_id = s.site_id
left join seed_water_quality_thresholds as t on m.parameter = t.parameter and m.unit = t.unit
group by all;

