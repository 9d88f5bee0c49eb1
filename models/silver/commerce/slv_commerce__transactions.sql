{{ config(materialized='incremental', unique_key='transaction_id') }}

with validated as (
    select * from {{ ref('int_transactions_validated') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'transaction_id', '_source_file, _source_line') }}
),

final as (
    select
        transaction_id,
        customer_id,
        product_id,
        quantity,
        unit_price,
        currency_code,
        amount,
        amount_eur,
        transaction_at,
        cast(transaction_at as date) as transaction_date,
        country_code,
        payment_method,
        status,
        _record_position,
        _batch_id,
        _ingested_at
    from deduplicated
    {{ not_yet_kept('deduplicated', 'transaction_id') }}
)

select * from final
