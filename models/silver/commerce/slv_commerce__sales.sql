{{ config(unique_key='sale_id') }}

with validated as (
    select * from {{ ref('stg_sales__sales') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'sale_id', '_kafka_partition, _kafka_offset') }}
),

final as (
    select
        sale_id,
        customer_id,
        product_id,
        sold_at,
        cast(sold_at as date) as sale_date,
        quantity,
        unit_price_eur,
        amount_eur,
        customer_name,
        product_name,
        category,
        country_code,
        customer_segment,
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'sale_id') }}
)

select * from final
