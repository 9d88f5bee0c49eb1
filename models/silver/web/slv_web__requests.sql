{{ config(unique_key='request_id') }}

with validated as (
    select * from {{ ref('stg_server_logs__requests') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'request_id', '_source_file, _source_line') }}
),

final as (
    select
        request_id,
        client_ip,
        remote_user,
        requested_at,
        date_trunc('hour', requested_at) as requested_hour,
        method,
        path,
        query_string,
        protocol,
        status,
        status_class,
        bytes_sent,
        referrer,
        user_agent,
        is_bot,
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'request_id') }}
)

select * from final
