with countries as (
    select * from {{ ref('countries') }}
),

aliases as (
    select
        lower(country_code) as alias,
        country_code
    from countries
    union all
    select
        lower(country_name) as alias,
        country_code
    from countries
    union all
    select
        lower(country_name_fr) as alias,
        country_code
    from countries
),

final as (
    select distinct
        alias,
        country_code
    from aliases
)

select * from final
