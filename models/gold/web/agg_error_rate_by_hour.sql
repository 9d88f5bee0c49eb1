with requests as (
    select * from {{ ref('slv_web__requests') }}
),

hourly as (
    select
        requested_hour,
        count(*) as requests,
        count_if(status_class = '4xx') as client_errors,
        count_if(status_class = '5xx') as server_errors
    from requests
    group by requested_hour
),

final as (
    select
        cast(requested_hour as timestamp) as requested_hour,
        cast(requests as bigint) as requests,
        cast(client_errors as bigint) as client_errors,
        cast(server_errors as bigint) as server_errors,
        cast(round((client_errors + server_errors) / requests, 6) as double) as error_rate,
        cast(round(server_errors / requests, 6) as double) as server_error_rate
    from hourly
)

select * from final
