with source as (
    select * from {{ source('bronze', 'sales') }}
),

country_aliases as (
    select * from {{ ref('stg_reference__country_aliases') }}
),

renamed as (
    select
        source.vente_id as sale_id,
        source.client_id as customer_id,
        source.produit_id as product_id,
        -- The producers write Paris time without an offset; a time that carries one is already exact.
        case
            when get_json_object(source._raw, '$.timestamp') rlike '(Z|[+-][0-9]{2}:?[0-9]{2})$' then source.timestamp
            else to_utc_timestamp(source.timestamp, 'Europe/Paris')
        end as sold_at,
        source.quantite as quantity,
        cast(source.montant as decimal(18, 2)) as amount_eur,
        nullif(trim(source.client_nom), '') as customer_name,
        nullif(trim(source.produit_nom), '') as product_name,
        nullif(trim(source.categorie), '') as category,
        coalesce(country_aliases.country_code, 'ZZ') as country_code,
        coalesce(nullif(trim(source.segment), ''), 'Inconnu') as customer_segment,
        {{ lineage_columns('kafka', 'source') }}
    from source
    left join country_aliases
        on lower(trim(source.pays)) = country_aliases.alias
),

final as (
    select
        sale_id,
        customer_id,
        product_id,
        sold_at,
        quantity,
        cast(amount_eur / nullif(quantity, 0) as decimal(18, 4)) as unit_price_eur,
        amount_eur,
        customer_name,
        product_name,
        category,
        country_code,
        customer_segment,
        case
            when quantity <= 0 then concat('quantite ', cast(quantity as string), ' is not positive')
            when amount_eur < 0 then concat('montant ', cast(amount_eur as string), ' is negative')
        end as reject_reason,
        {{ lineage_columns('kafka') }}
    from renamed
)

select * from final
