{#-
    The lineage columns every staging and silver model carries, in one place.
    kind: 'file' or 'kafka' (where the bronze row came from), or 'kept' (what silver keeps of it).
    source_alias: set in the first CTE of a staging model, which reads the columns from bronze and
    derives `_record_position`; later CTEs pass the columns through by name.
-#}
{% macro lineage_columns(kind, source_alias=none) %}
    {%- set positions = {
        'file': ['_source_file', '_source_line'],
        'kafka': ['_kafka_partition', '_kafka_offset'],
        'kept': [],
    }[kind] -%}
    {%- set prefix = source_alias ~ '.' if source_alias else '' -%}
    {%- if kind != 'kept' %}{{ prefix }}_raw,{% endif %}
    {%- for column in positions %}
        {{ prefix }}{{ column }},
    {%- endfor %}
        {% if source_alias %}{{ record_position(kind) }} as _record_position{% else %}_record_position{% endif %},
        {{ prefix }}_batch_id,
        {{ prefix }}_ingested_at
{%- endmacro %}
