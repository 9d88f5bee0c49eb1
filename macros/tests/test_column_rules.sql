{#-
    Every column rule of a model in one scan: on Spark each test query costs a planning pass and two jobs
    whatever it checks, so a model's not_null, unique, accepted_values, non_negative and within_range rules
    are one query here rather than one each. `rules` maps a column to its rules:

        rules:
          quantity: [not_null, {within_range: {min_value: 1}}]
          status: [{accepted_values: [completed, refunded, cancelled]}]

    Each row of the result is a broken rule: the column, the rule and how many rows break it (for unique,
    the rows beyond the first of each value). Nulls break only not_null, as with dbt's own tests.
-#}
{% test column_rules(model, rules) %}
{%- set checks = [] -%}
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
        {%- else -%}
            {{ exceptions.raise_compiler_error("column_rules: unknown rule '" ~ name ~ "' on " ~ column ~ " (not_null, unique, non_negative, accepted_values, within_range)") }}
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
