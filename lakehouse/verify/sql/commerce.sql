-- Exports: required fields present and typed (else quarantined at ingestion), then the business rules.
create or replace table v_transactions as
with typed as (
    select *, blank(transaction_id) as id, blank(customer_id) as ref, as_decimal(unit_price) as price,
        as_time(transaction_at) as placed_at
    from raw_transactions
    where blank(transaction_id) is not null and blank(customer_id) is not null and is_int(product_id)
        and is_int(quantity) and as_decimal(unit_price) is not null and blank(currency) is not null
        and as_time(transaction_at) is not null
),
valid as (
    select typed.*, try_cast(regexp_extract(ref, '^C([0-9]+)$', 1) as bigint) as customer_no,
        try_cast(trim(quantity) as bigint) as qty, try_cast(trim(product_id) as bigint) as product_no,
        upper(trim(currency)) as currency_code, c.eur_per_unit::decimal(12, 6) as rate,
        lower(trim(status)) as line_status,
        coalesce(a.country_code, 'ZZ') as country_code
    from typed
    left join seed_currencies as c on upper(trim(typed.currency)) = c.currency_code
    left join aliases as a on lower(trim(typed.country)) = a.alias
    where regexp_full_match(ref, 'C[0-9]+') and try_cast(trim(quantity) as bigint) > 0 and price >= 0
        and c.currency_code is not null and lower(trim(status)) in ('completed', 'refunded', 'cancelled')
)
select id as transaction_id, customer_no as customer_id, product_no as product_id, qty as quantity,
    round(qty * price, 2) as amount, round(price * rate, 4) as unit_price_eur,
    round(qty * price * rate, 2) as amount_eur, currency_code, placed_at as transaction_at, country_code,
    line_status as status
from valid
qualify row_number() over (partition by id order by file_order, line) = 1;

-- The stream: Paris time unless the time carries an offset; quantity positive, amount not negative.
create or replace table v_sales as
with typed as (
    select partition, "offset", doc, jf(doc, 'timestamp') as ts
    from raw_sales
    where doc is not null and blank(doc) is not null
        and is_int(jf(doc, 'vente_id')) and is_int(jf(doc, 'client_id')) and is_int(jf(doc, 'produit_id'))
        and is_int(jf(doc, 'quantite')) and as_decimal(jf(doc, 'montant')) is not null
        and as_time(jf(doc, 'timestamp')) is not null
),
valid as (
    select *, try_cast(jf(doc, 'vente_id') as bigint) as sale_id, try_cast(jf(doc, 'quantite') as bigint) as qty,
        round(as_decimal(jf(doc, 'montant')), 2) as amount_eur
    from typed
    where try_cast(jf(doc, 'quantite') as bigint) > 0 and as_decimal(jf(doc, 'montant')) >= 0
)
select sale_id, try_cast(jf(doc, 'client_id') as bigint) as customer_id, try_cast(jf(doc, 'produit_id') as bigint) as product_id,
    case when regexp_matches(trim(ts), '(Z|[+-][0-9]{2}:?[0-9]{2})$') then as_time(ts)
        else timezone('Europe/Paris', try_cast(trim(ts) as timestamp)) end as sold_at,
    qty as quantity, amount_eur, half_up(amount_eur::varchar, qty, 4) as unit_price_eur,
    blank(jf(doc, 'client_nom')) as customer_name, blank(jf(doc, 'produit_nom')) as product_name,
    blank(jf(doc, 'categorie')) as category, coalesce(a.country_code, 'ZZ') as country_code,
    coalesce(blank(jf(doc, 'segment')), 'Inconnu') as customer_segment
from valid
left join aliases as a on lower(trim(jf(valid.doc, 'pays'))) = a.alias
qualify row_number() over (partition by sale_id order by partition, "offset") = 1;

create or replace table v_fct_order_lines as
select 'T-' || transaction_id as order_line_id, 'export' as channel, customer_id, product_id,
    transaction_at as ordered_at, try_cast(transaction_at as date) as order_date, quantity, unit_price_eur,
    amount_eur, currency_code, amount, country_code, status, status = 'completed' as is_revenue
from v_transactions
union all
select 'S-' || sale_id, 'stream', customer_id, product_id, sold_at, try_cast(sold_at as date), quantity,
    unit_price_eur, amount_eur, 'EUR', amount_eur, country_code, 'completed', true
from v_sales;

create or replace table v_dim_products as
with sold as (
    select product_id, min(ordered_at) as first_sold_at from v_fct_order_lines group by product_id
),
streamed as (
    select product_id, arg_max(product_name, sold_at) as product_name, arg_max(category, sold_at) as category
    from v_sales group by product_id
)
select ids.product_id,
    coalesce(trim(p.product_name), s.product_name, 'product ' || ids.product_id) as product_name,
    coalesce(trim(p.category), s.category, 'Non classé') as category,
    p.list_price::decimal(18, 2) as list_price, p.currency as list_price_currency_code,
    p.launched_on, p.product_id is not null as is_in_catalogue, sold.first_sold_at
from (select product_id from seed_products union select product_id from sold) as ids
left join seed_products as p on ids.product_id = p.product_id
left join streamed as s on ids.product_id = s.product_id
left join sold on ids.product_id = sold.product_id;

create or replace table v_dim_customers as
with activity as (
    select customer_id, arg_max(country_code, ordered_at) as country_code, min(ordered_at) as first_seen_at,
        max(ordered_at) as last_seen_at, bool_or(channel = 'export') as is_in_exports,
        bool_or(channel = 'stream') as is_in_stream
    from v_fct_order_lines group by customer_id
),
profiles as (
    select customer_id, arg_max(customer_name, sold_at) as customer_name,
        arg_max(customer_segment, sold_at) as customer_segment
    from v_sales group by customer_id
)
select activity.customer_id, coalesce(profiles.customer_name, 'customer ' || activity.customer_id) as customer_name,
    coalesce(profiles.customer_segment, 'Inconnu') as customer_segment, activity.country_code,
    first_seen_at, last_seen_at, is_in_exports, is_in_stream
from activity left join profiles on activity.customer_id = profiles.customer_id;

create or replace table v_agg_sales_by_product_day as
select f.product_id, d.product_name, d.category, f.order_date, count(*) as order_lines,
    sum(f.quantity) as quantity, sum(f.amount_eur) as revenue_eur
from v_fct_order_lines as f join v_dim_products as d on f.product_id = d.product_id
where f.is_revenue group by all;

create or replace table v_agg_sales_by_product as
select f.product_id, d.product_name, d.category, count(*) as order_lines, sum(f.quantity) as quantity,
    sum(f.amount_eur) as revenue_eur, min(f.order_date) as first_sale_date, max(f.order_date) as last_sale_date
from v_fct_order_lines as f join v_dim_products as d on f.product_id = d.product_id
where f.is_revenue group by all;

create or replace table v_agg_spend_by_customer as
select f.customer_id, c.customer_name, c.customer_segment, count(*) as purchase_count,
    sum(f.amount_eur) as total_spend_eur, half_up(sum(f.amount_eur)::varchar, count(*), 2) as avg_basket_eur,
    min(f.ordered_at) as first_purchase_at, max(f.ordered_at) as last_purchase_at,
    count(*) >= getvariable('loyalty_min_purchases') and sum(f.amount_eur) >= getvariable('loyalty_min_spend_eur') as is_loyal
from v_fct_order_lines as f left join v_dim_customers as c on f.customer_id = c.customer_id
where f.is_revenue group by all;

create or replace table v_agg_revenue_by_country_category_segment as
select f.country_code, k.country_name, d.category, c.customer_segment, count(*) as order_lines,
    count(distinct f.customer_id) as customers, sum(f.amount_eur) as revenue_eur
from v_fct_order_lines as f
join v_dim_products as d on f.product_id = d.product_id
join v_dim_customers as c on f.customer_id = c.customer_id
left join seed_countries as k on f.country_code = k.country_code
where f.is_revenue group by all;
