{#-
    Nothing lost, nothing invented between layers: every bronze row of the source is either in the
    silver model or in the rejects model (with its reason). Fails with one row holding the counts.
-#}
{% test reconciles_with_bronze(model, bronze, source_name, rejects=none) %}
{% set rejects = rejects or ref('slv_quality__rejects') %}
with counts as (
    select
        (select count(*) from {{ bronze }}) as bronze_rows,
        (select count(*) from {{ model }}) as silver_rows,
        (select count(*) from {{ rejects }} where source_name = '{{ source_name }}') as rejected_rows
)

select *
from counts
where bronze_rows != silver_rows + rejected_rows
{% endtest %}
