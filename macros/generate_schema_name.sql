{#
    Layers are schemas: a model configured with `+schema: silver` lands in `silver`, not in
    `<target schema>_silver` (dbt's default), so beeline, PySpark and BI tools see stable names.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
