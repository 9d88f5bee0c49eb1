{#
    Column descriptions become column comments (`persist_docs`). dbt-spark sends one `alter table
    ... change column ... comment` per column, and on Delta each is a commit of its own: a 14-column
    table took 14 commits after every build. Spark 4 alters every column in one statement, one
    commit, and only the columns whose comment differs are altered: an incremental build that
    changes no description commits nothing here. A view carries its column comments in its
    definition already.
#}
{% macro spark__alter_column_comment(relation, column_dict) %}
  {% if relation.type != 'view' and column_dict %}
    {% set current = {} %}
    {% for row in run_query('describe table ' ~ relation) %}
      {% do current.update({row[0]: row[2]}) %}
    {% endfor %}
    {% set changes = [] %}
    {% for column_name in column_dict if current.get(column_name) != column_dict[column_name]['description'] %}
      {% set column = column_dict[column_name] %}
      {% set quoted_name = adapter.quote(column_name) if column['quote'] else column_name %}
      {% set escaped = column['description'] | replace('\\', '\\\\') | replace("'", "\\'") %}
      {% do changes.append(quoted_name ~ " comment '" ~ escaped ~ "'") %}
    {% endfor %}
    {% if changes %}
      {% call statement('alter_column_comments') %}
        alter table {{ relation }} alter column {{ changes | join(', ') }}
      {% endcall %}
    {% endif %}
  {% endif %}
{% endmacro %}
