{#-
    The incremental filter of a silver model: rows ingested since the newest row it holds (a batch
    commits atomically, so `>=` re-reads at most the last batch, which the key check then drops).
    After a rollback every row is looked at again, once (see `drop_rolled_back_batches`).
-#}
{% macro new_rows_only() %}
    {% if is_incremental() and not rolled_back_batches_held() %}
        and _ingested_at >= (select coalesce(max(_ingested_at), timestamp'1970-01-01') from {{ this }})
    {% endif %}
{% endmacro %}
