-- Cross-model rule: the per-minute, per-day and per-hour aggregates count every silver event once
-- (an empty aggregate sums to 0, not NULL, so that it fails the rule).
select
    'device_events' as model,
    gold_total,
    silver_total
from (
    select
        (select coalesce(sum(events), 0) from {{ ref('agg_device_events_by_type_minute') }}) as gold_total,
        (select count(*) from {{ ref('slv_devices__events') }}) as silver_total
)
where gold_total != silver_total

union all

select
    'ad_events' as model,
    gold_total,
    silver_total
from (
    select
        (
            select coalesce(sum(impressions + clicks), 0)
            from {{ ref('agg_ad_performance_by_campaign_day') }}
        ) as gold_total,
        (select count(*) from {{ ref('slv_marketing__ad_events') }}) as silver_total
)
where gold_total != silver_total

union all

select
    'server_logs' as model,
    gold_total,
    silver_total
from (
    select
        (select coalesce(sum(requests), 0) from {{ ref('agg_requests_by_status_hour') }}) as gold_total,
        (select count(*) from {{ ref('slv_web__requests') }}) as silver_total
)
where gold_total != silver_total
