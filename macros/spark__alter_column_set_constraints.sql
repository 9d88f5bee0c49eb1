{#
    dbt-spark enforces a `not_null` column constraint with `alter table ... change column ... set
    not null`, which Delta (Spark 4) refuses on a table created by CTAS ("Cannot change nullable
    column to non-nullable"). A Delta CHECK constraint enforces the same rule on every later write
    and is checked against the rows already there, so contracts keep their meaning.
#}
{% macro spark__alter_column_set_constraints(relation, column_dict) %}
  {% for column_name in column_dict %}
    {% for constraint in column_dict[column_name]['constraints'] %}
      {% if constraint.type != 'not_null' %}
        {{ exceptions.warn('Invalid constraint for column ' ~ column_name ~ '. Only `not_null` is supported.') }}
      {% else %}
        {% set quoted_name = adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name %}
        {% call statement() %}
          alter table {{ relation }} add constraint {{ column_name }}_not_null check ({{ quoted_name }} is not null)
        {% endcall %}
      {% endif %}
    {% endfor %}
  {% endfor %}
{% endmacro %}
