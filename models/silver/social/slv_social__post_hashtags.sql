with posts as (
    select * from {{ ref('slv_social__posts') }}
),

final as (
    select distinct
        posts.post_id,
        tags.hashtag,
        posts.platform,
        posts.product_id,
        posts.posted_at
    from posts
        lateral view explode(posts.hashtags) tags as hashtag
)

select * from final
