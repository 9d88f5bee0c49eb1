{#-
    An enforced contract's `not_null` columns become one Delta CHECK constraint, `not_null_columns`,
    written into the table's properties by the `create or replace table … as select` itself: Delta
    checks it on that first write (a null fails the build and leaves the table as it was) and on every
    later one. dbt-spark would instead run `alter table … change column … set not null`, which Delta
    (Spark 4) refuses on a table created by CTAS; and an `alter table … add constraint` afterwards is one
    more Delta commit and a scan of the table per model (2 s on a small gold table here).
    An incremental model keeps the constraint its first build gave it until a full refresh.
-#}
{% macro spark__tblproperties_clause() -%}
  {%- set tblproperties = dict(config.get('tblproperties') or {}) -%}
  {%- set not_null = not_null_contract_columns() -%}
  {%- if not_null -%}
    {%- do tblproperties.update({'delta.constraints.not_null_columns': not_null | join(' is not null and ') ~ ' is not null'}) -%}
  {%- endif -%}
  {%- if tblproperties %}
    tblproperties (
      {%- for prop in tblproperties -%}
      '{{ prop }}' = '{{ tblproperties[prop] }}' {% if not loop.last %}, {% endif %}
      {%- endfor %}
    )
  {%- endif %}
{%- endmacro %}

{#- The columns of the model being built that its enforced contract declares not null (quoted where configured). -#}
{% macro not_null_contract_columns() %}
  {%- set columns = [] -%}
  {%- set contract = config.get('contract') -%}
  {%- if model is not mapping or not (contract and contract.enforced)
        or config.get('materialized') not in ('table', 'incremental') -%}
    {{ return(columns) }}
  {%- endif -%}
  {%- for column_name, column in model['columns'].items() -%}
    {%- for constraint in column['constraints'] -%}
      {%- if constraint.type == 'not_null' -%}
        {%- do columns.append(adapter.quote(column_name) if column['quote'] else column_name) -%}
      {%- else -%}
        {{ exceptions.warn('Invalid constraint for column ' ~ column_name ~ '. Only `not_null` is supported.') }}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(columns) }}
{% endmacro %}

{#- Set at create time by `spark__tblproperties_clause` above. -#}
{% macro spark__alter_column_set_constraints(relation, column_dict) %}
{% endmacro %}
