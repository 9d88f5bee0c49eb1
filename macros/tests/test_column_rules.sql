{#-
    Every column rule of a model in one query: on Spark each test query costs a planning pass and a few jobs
    whatever it checks, so a model's not_null, unique, accepted_values, non_negative, within_range and
    relationships rules are one query here rather than one each. `rules` maps a column to its rules:

        rules:
          quantity: [not_null, {within_range: {min_value: 1}}]
          status: [{accepted_values: [completed, refunded, cancelled]}]
          customer_id: [not_null, {relationships: {to: "ref('dim_customers')", field: customer_id}}]

    Each row of the result is a broken rule: the column, the rule and how many rows break it (for unique,
    the rows beyond the first of each value; for relationships, the rows whose value `to` does not hold).
    Nulls break only not_null, as with dbt's own tests. A relationships rule joins the distinct keys of
    `to`, so it never multiplies the model's rows the other rules count.

    `unique_combinations` lists composite keys, each a list of columns (`[[site_id, month]]`): the rows
    beyond the first of each combination, nulls counting as a value (as a `group by` does).
-#}
{% test column_rules(model, rules={}, unique_combinations=[]) %}
{%- set checks = [] -%}
{%- set lookups = [] -%}
{%- for columns in unique_combinations -%}
    {%- set quoted = [] -%}
    {%- for column in columns -%}{%- do quoted.append(adapter.quote(column)) -%}{%- endfor -%}
    {%- set failing = 'count(*) - count(distinct struct(' ~ quoted | join(', ') ~ '))' -%}
    {%- do checks.append({'column': columns | join(', '), 'rule': 'unique_combination', 'failing': failing}) -%}
{%- endfor -%}
{%- for column, column_rules in rules.items() -%}
    {%- set quoted = adapter.quote(column) -%}
    {%- for rule in column_rules -%}
        {%- if rule is string -%}
            {%- set name, args = rule, none -%}
        {%- else -%}
            {%- set name = (rule.keys() | list)[0] -%}
            {%- set args = rule[name] -%}
        {%- endif -%}
        {%- if name == 'not_null' -%}
            {%- set failing = 'count_if(' ~ quoted ~ ' is null)' -%}
        {%- elif name == 'unique' -%}
            {%- set failing = 'count(' ~ quoted ~ ') - count(distinct ' ~ quoted ~ ')' -%}
        {%- elif name == 'non_negative' -%}
            {%- set failing = 'count_if(' ~ quoted ~ ' < 0)' -%}
        {%- elif name == 'accepted_values' -%}
            {%- set values = [] -%}
            {%- for value in args -%}
                {%- do values.append("'" ~ (value | string | replace("\\", "\\\\") | replace("'", "\\'")) ~ "'") -%}
            {%- endfor -%}
            {%- set failing = 'count_if(' ~ quoted ~ ' not in (' ~ values | join(', ') ~ '))' -%}
        {%- elif name == 'within_range' -%}
            {%- set bounds = [] -%}
            {%- if args.get('min_value') is not none -%}{%- do bounds.append(quoted ~ ' < ' ~ args['min_value']) -%}{%- endif -%}
            {%- if args.get('max_value') is not none -%}{%- do bounds.append(quoted ~ ' > ' ~ args['max_value']) -%}{%- endif -%}
            {%- if not bounds -%}
                {{ exceptions.raise_compiler_error("column_rules: within_range on " ~ column ~ " needs min_value or max_value") }}
            {%- endif -%}
            {%- set failing = 'count_if(' ~ bounds | join(' or ') ~ ')' -%}
        {%- elif name == 'relationships' -%}
            {%- if args.get('to') is none or args.get('field') is none -%}
                {{ exceptions.raise_compiler_error("column_rules: relationships on " ~ column ~ " needs to and field") }}
            {%- endif -%}
            {%- set key = '_lookup_' ~ (lookups | length + 1) -%}
            {%- do lookups.append({'key': key, 'to': args['to'], 'field': adapter.quote(args['field']), 'column': quoted}) -%}
            {%- set failing = 'count_if(' ~ quoted ~ ' is not null and ' ~ key ~ '._lookup_present is null)' -%}
        {%- else -%}
            {{ exceptions.raise_compiler_error("column_rules: unknown rule '" ~ name ~ "' on " ~ column ~ " (not_null, unique, non_negative, accepted_values, within_range, relationships)") }}
        {%- endif -%}
        {%- do checks.append({'column': column, 'rule': name, 'failing': failing}) -%}
    {%- endfor -%}
{%- endfor -%}
with counts as (
    select
    {%- for check in checks %}
        {{ check.failing }} as check_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
    {%- for lookup in lookups %}
    left join (select distinct {{ lookup.field }} as _lookup_value, true as _lookup_present from {{ lookup.to }}) as {{ lookup.key }}
        on {{ lookup.column }} = {{ lookup.key }}._lookup_value
    {%- endfor %}
)

select column_name, rule, failing_rows
from counts
lateral view stack(
    {{ checks | length }},
    {%- for check in checks %}
    '{{ check.column }}', '{{ check.rule }}', check_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
) broken as column_name, rule, failing_rows
where failing_rows > 0
{% endtest %}
