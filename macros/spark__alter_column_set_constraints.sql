{#
    dbt-spark enforces a `not_null` column constraint with `alter table ... change column ... set
    not null`, which Delta (Spark 4) refuses on a table created by CTAS ("Cannot change nullable
    column to non-nullable"). A Delta CHECK constraint enforces the same rule on every later write
    and is checked against the rows already there, so contracts keep their meaning. One constraint
    for all the table's not-null columns: each `add constraint` is a Delta commit and a scan of the
    table, and a violation still names the columns and the row's values.
#}
{% macro spark__alter_column_set_constraints(relation, column_dict) %}
  {% set not_null = [] %}
  {% for column_name in column_dict %}
    {% for constraint in column_dict[column_name]['constraints'] %}
      {% if constraint.type != 'not_null' %}
        {{ exceptions.warn('Invalid constraint for column ' ~ column_name ~ '. Only `not_null` is supported.') }}
      {% else %}
        {% do not_null.append(adapter.quote(column_name) if column_dict[column_name]['quote'] else column_name) %}
      {% endif %}
    {% endfor %}
  {% endfor %}
  {% if not_null %}
    {% call statement() %}
      alter table {{ relation }} add constraint not_null_columns check ({{ not_null | join(' is not null and ') }} is not null)
    {% endcall %}
  {% endif %}
{% endmacro %}
