{#-
    The columns `bronze.<source_name>` gained under the `evolve` schema policy (README: "When a source
    changes shape"): those of the view that the source's YAML does not declare, text, passed through
    by name so that a new field reaches staging without a change here. They are read from the
    warehouse when the model runs; its unit tests override this macro (their fixtures have no such
    column).
-#}
{% macro evolved_columns(source_name, source_alias=none) %}
    {%- if execute -%}
        {%- set declared = [] -%}
        {%- for node in graph.sources.values() if node.source_name == 'bronze' and node.name == source_name -%}
            {%- do declared.extend(node.columns.keys() | map('lower')) -%}
        {%- endfor -%}
        {%- set prefix = source_alias ~ '.' if source_alias else '' -%}
        {%- for column in adapter.get_columns_in_relation(source('bronze', source_name)) -%}
            {%- if column.name | lower not in declared %}
        {{ prefix }}`{{ column.name }}`,
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}
