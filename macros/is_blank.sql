{#- Null, empty, or only spaces: a required text field that says nothing. -#}
{% macro is_blank(column) %}
    (nullif(trim({{ column }}), '') is null)
{% endmacro %}
