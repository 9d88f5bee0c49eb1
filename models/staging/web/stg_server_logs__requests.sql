with source as (
    select * from {{ source('bronze', 'server_logs') }}
),

parsed as (
    select
        sha2(source._raw, 256) as request_id,
        source.client_ip,
        nullif(source.remote_user, '-') as remote_user,
        source.requested_at,
        regexp_extract(source.request, '^([A-Z]+) ([^ ]+) (HTTP/[0-9.]+)$', 1) as method,
        regexp_extract(source.request, '^([A-Z]+) ([^ ]+) (HTTP/[0-9.]+)$', 2) as target,
        regexp_extract(source.request, '^([A-Z]+) ([^ ]+) (HTTP/[0-9.]+)$', 3) as protocol,
        cast(source.status as int) as status,
        -- `-` means no body was sent.
        coalesce(source.bytes_sent, 0) as bytes_sent,
        nullif(source.referrer, '-') as referrer,
        nullif(source.user_agent, '-') as user_agent,
        source.request,
        {{ lineage_columns('file', 'source') }}
    from source
),

final as (
    select
        request_id,
        client_ip,
        remote_user,
        requested_at,
        method,
        nullif(regexp_extract(target, '^([^?#]*)', 1), '') as path,
        nullif(regexp_extract(target, '\\?([^#]*)', 1), '') as query_string,
        protocol,
        status,
        concat(cast(floor(status / 100) as string), 'xx') as status_class,
        bytes_sent,
        referrer,
        user_agent,
        coalesce(user_agent rlike '(?i)(bot|crawler|spider|slurp|curl|wget|python-requests|httpclient|headless)', false)
            as is_bot,
        case
            when method = '' then concat('request line "', coalesce(request, ''), '" is not "METHOD target protocol"')
            when status not between 100 and 599 then concat('status ', cast(status as string), ' is not an HTTP status')
        end as reject_reason,
        {{ lineage_columns('file') }}
    from parsed
)

select * from final
