with source as (
    select * from {{ source('bronze', 'server_logs') }}
),

-- Which version of its file each batch read (a file re-landed with more lines is a new version).
file_versions as (
    select
        batch_id,
        file_sha256
    from {{ source('ledger', 'ingestion_batches') }}
    where source = 'server_logs'
),

-- A log line has no id: the same line in the same place of a delivery is the same request, so
-- identical lines within one file version are separate requests (numbered by occurrence), and a
-- line delivered again (the file re-sent, rotated files that overlap) gets the same number again.
numbered as (
    select
        source.*,
        row_number() over (
            partition by source._source_file, file_versions.file_sha256, source._raw
            order by source._source_line
        ) as occurrence
    from source
    left join file_versions on source._batch_id = file_versions.batch_id
),

parsed as (
    select
        sha2(concat(source._raw, '#', cast(source.occurrence as string)), 256) as request_id,
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
    from numbered as source
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
