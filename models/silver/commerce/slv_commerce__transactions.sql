{{ config(unique_key='transaction_id') }}

with validated as (
    select * from {{ ref('stg_transactions__order_lines') }}
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
        unit_price_eur,
        amount_eur,
        transaction_at,
        cast(transaction_at as date) as transaction_date,
        country_code,
        payment_method,
        status,
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'transaction_id') }}
)

select * from final
