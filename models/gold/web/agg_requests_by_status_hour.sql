with requests as (
    select * from {{ ref('slv_web__requests') }}
),

final as (
    select
        cast(requested_hour as timestamp) as requested_hour,
        cast(status as int) as status,
        cast(status_class as string) as status_class,
        cast(count(*) as bigint) as requests,
        cast(count_if(is_bot) as bigint) as bot_requests,
        cast(sum(bytes_sent) as bigint) as bytes_sent
    from requests
    group by requested_hour, status, status_class
)

select * from final
