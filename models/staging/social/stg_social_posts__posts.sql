with source as (
    select * from {{ source('bronze', 'social_posts') }}
),

flattened as (
    select
        trim(source.post_id) as post_id,
        trim(source.user_id) as user_id,
        source.product_id,
        lower(trim(source.platform)) as platform,
        -- A counter the export leaves out was zero when the post was read.
        coalesce(source.likes, 0) as likes,
        coalesce(source.shares, 0) as shares,
        coalesce(source.comments, 0) as comments,
        nullif(trim(source.text), '') as post_text,
        source.posted_at,
        get_json_object(source.author, '$.handle') as author_handle,
        try_cast(get_json_object(source.author, '$.followers') as bigint) as author_followers,
        coalesce(try_cast(get_json_object(source.author, '$.verified') as boolean), false) as is_author_verified,
        transform(
            coalesce(from_json(source.hashtags, 'array<string>'), array()),
            tag -> lower(trim(tag))
        ) as hashtags,
        {{- evolved_columns('social_posts', 'source') }}
        {{ lineage_columns('file', 'source') }}
    from source
),

final as (
    select
        *,
        case
            when {{ is_blank('post_id') }} then 'post_id is empty'
            when platform not in ('twitter', 'instagram', 'facebook', 'tiktok', 'linkedin', 'youtube')
                then concat('platform "', platform, '" is not a known social network')
            when least(likes, shares, comments) < 0 then 'a negative likes, shares or comments count'
        end as reject_reason
    from flattened
)

select * from final
