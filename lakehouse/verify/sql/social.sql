-- Social: counters default to 0; an unknown platform or a negative counter rejects the post. An
-- optional field whose value is not of its type does not (the source's schema policy keeps its
-- text aside): it counts as missing.
create or replace table v_posts as
with typed as (
    select file_order, position, doc from raw_posts
    where doc is not null and blank(jf(doc, 'post_id')) is not null and blank(jf(doc, 'user_id')) is not null
        and blank(jf(doc, 'platform')) is not null and as_time(jf(doc, 'posted_at')) is not null
),
counted as (
    select *, trim(jf(doc, 'post_id')) as post_id, as_int(jf(doc, 'product_id')) as product_id,
        coalesce(as_int(jf(doc, 'likes')), 0) as likes,
        coalesce(as_int(jf(doc, 'shares')), 0) as shares,
        coalesce(as_int(jf(doc, 'comments')), 0) as comments
    from typed
)
select post_id, product_id, likes, shares, comments, likes + shares + comments as engagements
from counted
where lower(trim(jf(doc, 'platform'))) in ('twitter', 'instagram', 'facebook', 'tiktok', 'linkedin', 'youtube')
    and likes >= 0 and shares >= 0 and comments >= 0
qualify row_number() over (partition by post_id order by file_order, position) = 1;

create or replace table v_agg_engagement_by_product as
select p.product_id, d.product_name, count(*) as posts,
    half_up(sum(likes)::varchar, count(*), 2) as avg_likes, half_up(sum(shares)::varchar, count(*), 2) as avg_shares,
    half_up(sum(comments)::varchar, count(*), 2) as avg_comments,
    half_up(sum(engagements)::varchar, count(*), 2) as avg_engagements, sum(engagements) as total_engagements
from v_posts as p left join v_dim_products as d on p.product_id = d.product_id
where p.product_id is not null group by all;

