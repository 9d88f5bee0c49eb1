with posts as (
    select * from {{ ref('slv_social__posts') }}
    where product_id is not null
),

products as (
    select * from {{ ref('dim_products') }}
),

final as (
    select
        cast(posts.product_id as bigint) as product_id,
        cast(products.product_name as string) as product_name,
        cast(count(*) as bigint) as posts,
        cast(round(avg(posts.likes), 2) as double) as avg_likes,
        cast(round(avg(posts.shares), 2) as double) as avg_shares,
        cast(round(avg(posts.comments), 2) as double) as avg_comments,
        cast(round(avg(posts.engagements), 2) as double) as avg_engagements,
        cast(sum(posts.engagements) as bigint) as total_engagements
    from posts
    left join products on posts.product_id = products.product_id
    group by posts.product_id, products.product_name
)

select * from final
