{#- The column's total equals the total of a column of another model (within a rounding tolerance). -#}
{% test sums_match(model, column_name, to, field, model_filter='true', to_filter='true', tolerance=0.01) %}
with totals as (
    select
        (select coalesce(sum({{ column_name }}), 0) from {{ model }} where {{ model_filter }}) as model_total,
        (select coalesce(sum({{ field }}), 0) from {{ to }} where {{ to_filter }}) as other_total
)

select *
from totals
where abs(model_total - other_total) > {{ tolerance }}
{% endtest %}
