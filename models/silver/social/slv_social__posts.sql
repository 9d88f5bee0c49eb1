{{ config(unique_key='post_id') }}

with validated as (
    select * from {{ ref('stg_social_posts__posts') }}
    where reject_reason is null {{ new_rows_only() }}
),

deduplicated as (
    {{ keep_first('validated', 'post_id', '_source_file, _source_line') }}
),

final as (
    select
        post_id,
        user_id,
        product_id,
        platform,
        likes,
        shares,
        comments,
        likes + shares + comments as engagements,
        post_text,
        posted_at,
        author_handle,
        author_followers,
        is_author_verified,
        hashtags,
        size(hashtags) as hashtag_count,
        {{ lineage_columns('kept') }}
    from deduplicated
    {{ not_yet_kept('deduplicated', 'post_id') }}
)

select * from final
