with ad_events as (
    select * from {{ ref('slv_marketing__ad_events') }}
),

campaigns as (
    select * from {{ ref('campaigns') }}
),

daily as (
    select
        campaign_id,
        event_date,
        count_if(event_type = 'impression') as impressions,
        count_if(event_type = 'click') as clicks,
        sum(cost_eur) as cost_eur
    from ad_events
    group by campaign_id, event_date
),

final as (
    select
        cast(daily.campaign_id as string) as campaign_id,
        cast(campaigns.campaign_name as string) as campaign_name,
        cast(daily.event_date as date) as event_date,
        cast(daily.impressions as bigint) as impressions,
        cast(daily.clicks as bigint) as clicks,
        -- No impressions, no rate: null rather than a division by zero.
        cast(round(daily.clicks / nullif(daily.impressions, 0), 6) as double) as click_through_rate,
        cast(round(daily.cost_eur, 2) as decimal(18, 2)) as cost_eur,
        cast(round(daily.cost_eur / nullif(daily.clicks, 0), 4) as decimal(18, 4)) as cost_per_click_eur
    from daily
    left join campaigns on daily.campaign_id = campaigns.campaign_id
)

select * from final
