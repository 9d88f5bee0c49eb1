with source as (
    select * from {{ source('bronze', 'transactions') }}
),

country_aliases as (
    select * from {{ ref('stg_reference__country_aliases') }}
),

currencies as (
    select * from {{ ref('currencies') }}
),

cleaned as (
    select
        trim(source.transaction_id) as transaction_id,
        try_cast(regexp_extract(trim(source.customer_id), '^C([0-9]+)$', 1) as bigint) as customer_id,
        source.product_id,
        source.quantity,
        cast(source.unit_price as decimal(18, 4)) as unit_price,
        upper(trim(source.currency)) as currency_code,
        source.transaction_at,
        coalesce(country_aliases.country_code, 'ZZ') as country_code,
        coalesce(nullif(lower(trim(source.payment_method)), ''), 'unknown') as payment_method,
        lower(trim(source.status)) as status,
        currencies.eur_per_unit,
        source.customer_id as customer_reference,
        {{- evolved_columns('transactions', 'source') }}
        {{ lineage_columns('file', 'source') }}
    from source
    left join country_aliases
        on lower(trim(source.country)) = country_aliases.alias
    left join currencies
        on upper(trim(source.currency)) = currencies.currency_code
),

validated as (
    select
        *,
        case
            when {{ is_blank('transaction_id') }} then 'transaction_id is empty'
            when customer_id is null
                then concat('customer_id "', coalesce(customer_reference, ''), '" is not a customer number')
            when quantity <= 0 then concat('quantity ', cast(quantity as string), ' is not positive')
            when unit_price < 0 then concat('unit_price ', cast(unit_price as string), ' is negative')
            when eur_per_unit is null then concat('currency "', coalesce(currency_code, ''), '" has no reference rate')
            when status is null or status not in ('completed', 'refunded', 'cancelled')
                then concat('status "', coalesce(status, ''), '" is not completed, refunded or cancelled')
        end as reject_reason
    from cleaned
),

final as (
    select
        transaction_id,
        customer_id,
        product_id,
        quantity,
        unit_price,
        currency_code,
        cast(quantity * unit_price as decimal(18, 2)) as amount,
        cast(round(unit_price * eur_per_unit, 4) as decimal(18, 4)) as unit_price_eur,
        cast(round(quantity * unit_price * eur_per_unit, 2) as decimal(18, 2)) as amount_eur,
        transaction_at,
        country_code,
        payment_method,
        status,
        reject_reason,
        {{- evolved_columns('transactions') }}
        {{ lineage_columns('file') }}
    from validated
)

select * from final
