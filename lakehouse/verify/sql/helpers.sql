-- DuckDB macros and lookup tables the rules below use.
create or replace macro blank(x) as nullif(trim(x), '');
create or replace macro is_int(x) as coalesce(regexp_full_match(trim(x), '[-+]?[0-9]+'), false);
create or replace macro as_int(x) as case when is_int(x) then try_cast(trim(x) as bigint) end;
create or replace macro as_decimal(x) as try_cast(regexp_replace(trim(x), '^(-?[0-9]+),([0-9]+)$', '\1.\2') as decimal(18, 4));
create or replace macro as_double(x) as try_cast(regexp_replace(trim(x), '^(-?[0-9]+),([0-9]+)$', '\1.\2') as double);
create or replace macro as_time(x) as try_cast(trim(x) as timestamptz);
create or replace macro jf(doc, name) as json_extract_string(doc, '$."' || name || '"');
-- The countries seed: a country is written as its code, English or French name, any case, stray spaces.
create or replace table aliases as
    select distinct lower(alias) as alias, country_code from (
        select country_code as alias, country_code from seed_countries
        union all select country_name, country_code from seed_countries
        union all select country_name_fr, country_code from seed_countries);
