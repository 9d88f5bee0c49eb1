-- Devices: an event is its device, type and time; a value that is not a number counts as missing.
create or replace table v_device_events as
with typed as (
    select partition, "offset", doc,
        as_time(coalesce(jf(doc, 'event_at'), jf(doc, 'event_timestamp'), jf(doc, 'timestamp'))) as event_at
    from raw_device_events
    where doc is not null and blank(jf(doc, 'device_id')) is not null
        and blank(jf(doc, 'device_type')) is not null and blank(jf(doc, 'event_type')) is not null
)
select upper(trim(jf(doc, 'device_id'))) as device_id, lower(trim(jf(doc, 'device_type'))) as device_type,
    lower(trim(jf(doc, 'event_type'))) as event_type, as_double(jf(doc, 'value')) as value, event_at
from typed where event_at is not null
qualify row_number() over (
    partition by upper(trim(jf(doc, 'device_id'))), lower(trim(jf(doc, 'event_type'))), event_at
    order by partition, "offset") = 1;

create or replace table v_agg_device_events_by_type_minute as
select date_trunc('minute', event_at) as event_minute, device_type, event_type, count(*) as events,
    count(distinct device_id) as devices, half_up(sum(value::decimal(38, 12))::varchar, count(value), 3) as avg_value
from v_device_events group by all;
