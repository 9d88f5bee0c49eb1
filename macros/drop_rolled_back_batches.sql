{#-
    A batch rolled back in bronze (`lakehouse rollback`, or the Dagster job) leaves the incremental
    silver models on their next ordinary build: this pre-hook deletes its rows, and `new_rows_only`
    then looks at every staging row once, so a key whose kept copy was rolled back comes back from
    another delivery of it. A replay is a new batch, which the incremental filter brings in.
-#}
{% macro drop_rolled_back_batches() %}
    {%- set held = rolled_back_batches_held() -%}
    {%- if held -%}
        delete from {{ this }} where _batch_id in ('{{ held | join("', '") }}')
    {%- endif -%}
{% endmacro %}

{#- The rolled-back batches this incremental model still holds rows of (one look at the ledger when none was rolled back). -#}
{% macro rolled_back_batches_held() %}
    {%- if not (execute and is_incremental()) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set rolled_back = run_query(
        "select batch_id from bronze.ingestion_batches where status = 'rolled_back'"
    ).columns[0].values() -%}
    {%- if not rolled_back -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set id_list = "'" ~ rolled_back | join("', '") ~ "'" -%}
    {{ return(run_query(
        "select distinct _batch_id from " ~ this ~ " where _batch_id in (" ~ id_list ~ ")"
    ).columns[0].values() | list) }}
{% endmacro %}
