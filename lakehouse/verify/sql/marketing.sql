-- Marketing: impressions and clicks; a missing cost (or one that is not a number) is 0, a negative
-- one rejects the event.
create or replace table v_ad_events as
with typed as (
    select partition, "offset", doc,
        coalesce(jf(doc, 'event_at'), jf(doc, 'event_timestamp'), jf(doc, 'timestamp')) as at_text
    from raw_ad_events
    where doc is not null
)
select trim(jf(doc, 'event_id')) as event_id, upper(trim(jf(doc, 'campaign_id'))) as campaign_id,
    lower(trim(jf(doc, 'event_type'))) as event_type, coalesce(as_decimal(jf(doc, 'cost')), 0) as cost_eur,
    try_cast(as_time(at_text) as date) as event_date
from typed
where blank(jf(doc, 'event_id')) is not null and blank(jf(doc, 'campaign_id')) is not null
    and blank(jf(doc, 'ad_id')) is not null and blank(jf(doc, 'event_type')) is not null
    and as_time(at_text) is not null
    and lower(trim(jf(doc, 'event_type'))) in ('impression', 'click')
    and coalesce(as_decimal(jf(doc, 'cost')), 0) >= 0
qualify row_number() over (partition by trim(jf(doc, 'event_id')) order by partition, "offset") = 1;

create or replace table v_agg_ad_performance_by_campaign_day as
select e.campaign_id, c.campaign_name, e.event_date,
    count(*) filter (where event_type = 'impression') as impressions,
    count(*) filter (where event_type = 'click') as clicks,
    half_up((count(*) filter (where event_type = 'click'))::varchar,
        count(*) filter (where event_type = 'impression'), 6) as click_through_rate,
    round(sum(cost_eur), 2) as cost_eur,
    half_up(sum(cost_eur)::varchar, count(*) filter (where event_type = 'click'), 4) as cost_per_click_eur
from v_ad_events as e left join seed_campaigns as c on e.campaign_id = c.campaign_id
group by all;

