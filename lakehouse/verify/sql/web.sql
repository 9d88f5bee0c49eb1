-- Web: a line is identified by its text and its occurrence among identical lines of its file.
create or replace table v_requests as
with parsed as (
    select *, strptime(requested_at, '%d/%b/%Y:%H:%M:%S %z') as request_time,
        regexp_extract(request, '^([A-Z]+) ([^ ]+) (HTTP/[0-9.]+)$', 1) as method,
        try_cast(status as integer) as code
    from raw_logs
    where try_strptime(requested_at, '%d/%b/%Y:%H:%M:%S %z') is not null
)
select raw, occurrence, date_trunc('hour', request_time) as requested_hour, code as status,
    try_cast(floor(code / 100) as bigint) || 'xx' as status_class,
    coalesce(regexp_matches(user_agent, '(?i)(bot|crawler|spider|slurp|curl|wget|python-requests|httpclient|headless)'), false)
        and user_agent != '-' as is_bot,
    case when bytes_sent = '-' then 0 else try_cast(bytes_sent as bigint) end as bytes_sent
from parsed
where method != '' and code between 100 and 599
qualify row_number() over (partition by raw, occurrence order by file_order, line) = 1;

create or replace table v_agg_requests_by_status_hour as
select requested_hour, status, status_class, count(*) as requests, count(*) filter (where is_bot) as bot_requests,
    sum(bytes_sent) as bytes_sent
from v_requests group by all;

create or replace table v_agg_error_rate_by_hour as
select requested_hour, count(*) as requests, count(*) filter (where status_class = '4xx') as client_errors,
    count(*) filter (where status_class = '5xx') as server_errors,
    half_up((count(*) filter (where status_class in ('4xx', '5xx')))::varchar, count(*), 6) as error_rate,
    half_up((count(*) filter (where status_class = '5xx'))::varchar, count(*), 6) as server_error_rate
from v_requests group by all;

