{#-
    Nothing lost, nothing invented between layers: every bronze row of the source is either in the
    silver model or in the rejects model (with its reason), by identity (its batch and its position
    in the file or topic), not only by count: one row lost and one invented fail it. The identities
    are compared as a count and a sum of their 64-bit hashes on each side (a decimal sum, which
    cannot overflow). Fails with one row holding the counts.
-#}
{% test reconciles_with_bronze(model, bronze, source_name, kind, rejects=none) %}
{% set rejects = rejects or ref('slv_quality__rejects') %}
with bronze_rows as (
    select
        count(*) as records,
        coalesce(sum(cast(xxhash64(_batch_id, {{ record_position(kind) }}) as decimal(38, 0))), 0) as identities
    from {{ bronze }}
),

silver_rows as (
    select
        count(*) as records,
        coalesce(sum(cast(xxhash64(_batch_id, _record_position) as decimal(38, 0))), 0) as identities
    from {{ model }}
),

rejected_rows as (
    select
        count(*) as records,
        coalesce(sum(cast(xxhash64(batch_id, record_position) as decimal(38, 0))), 0) as identities
    from {{ rejects }}
    where source_name = '{{ source_name }}'
)

select
    bronze_rows.records as bronze_rows,
    silver_rows.records as silver_rows,
    rejected_rows.records as rejected_rows
from bronze_rows
cross join silver_rows
cross join rejected_rows
where
    bronze_rows.records != silver_rows.records + rejected_rows.records
    or bronze_rows.identities != silver_rows.identities + rejected_rows.identities
{% endtest %}
