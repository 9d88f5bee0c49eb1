{#-
    Deduplication: of the rows sharing `key`, keep the first one delivered (earliest ingestion, then
    position in the source), so an incremental run and a full refresh keep the same row.
-#}
{% macro keep_first(relation, key, order_by) %}
    select * except (delivery_rank)
    from (
        select
            *,
            row_number() over (partition by {{ key }} order by _ingested_at, {{ order_by }}) as delivery_rank
        from {{ relation }}
    )
    where delivery_rank = 1
{% endmacro %}
