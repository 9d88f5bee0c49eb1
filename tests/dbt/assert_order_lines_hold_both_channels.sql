-- Cross-model rule: the fact holds every silver order line of both channels, once.
with expected as (
    select
        (select count(*) from {{ ref('slv_commerce__transactions') }}) as export_lines,
        (select count(*) from {{ ref('slv_commerce__sales') }}) as stream_lines
),

actual as (
    select
        count_if(channel = 'export') as export_lines,
        count_if(channel = 'stream') as stream_lines
    from {{ ref('fct_order_lines') }}
)

select
    expected.*,
    actual.export_lines as fact_export_lines,
    actual.stream_lines as fact_stream_lines
from expected
cross join actual
where expected.export_lines != actual.export_lines or expected.stream_lines != actual.stream_lines
