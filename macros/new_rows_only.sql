{#-
    The incremental filter of a silver model: rows ingested since the newest row it holds (a batch
    commits atomically, so `>=` re-reads at most the last batch, which the key check then drops).
-#}
{% macro new_rows_only() %}
    {% if is_incremental() %}
        and _ingested_at >= (select coalesce(max(_ingested_at), timestamp'1970-01-01') from {{ this }})
    {% endif %}
{% endmacro %}
