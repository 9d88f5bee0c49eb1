{#
    A view's column comments go into the Hive metastore's COLUMNS_V2.COMMENT, a VARCHAR(256) in
    its schema for every database (Derby here, PostgreSQL or MySQL elsewhere). A longer one fails
    the insert, which the metastore retries ten times two seconds apart while every other
    metastore call of the server waits: 20 s per such view, then the view is stored anyway. The
    comment is cut to fit; the full description stays in the dbt docs. (Delta tables keep their
    column comments in the Delta log, without that limit.)
#}
{% macro get_column_comment_sql(column_name, column_dict) -%}
  {% set description = column_dict[column_name]["description"] if column_name in column_dict else "" %}
  {{ adapter.quote(column_name) }}
  {%- if description %} comment '{{ metastore_comment(description) | replace("\\", "\\\\") | replace("'", "\\'") }}'{% endif %}
{%- endmacro %}

{#- At most `limit` characters: a longer text is cut and ends with an ellipsis. -#}
{% macro metastore_comment(text, limit=256) -%}
  {{- text if text | length <= limit else (text[:limit - 1] | trim) ~ "…" -}}
{%- endmacro %}
