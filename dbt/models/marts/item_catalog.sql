-- Every SKU the catalog or a sequence names, with its category, price bucket and how often
-- train sequences hold it. SKUs seen only outside train keep a popularity of 0: the evaluation
-- must face them.
with train_counts as (

    select
        steps.sku,
        count(*) as train_interactions,
        count(distinct steps.session_key) as train_sessions
    from {{ ref('int_session_interactions') }} as steps
    inner join {{ ref('session_splits') }} as splits
        on splits.session_key = steps.session_key
    where splits.split = 'train'
    group by steps.sku

),

sequence_skus as (

    select distinct steps.sku
    from {{ ref('int_session_interactions') }} as steps
    inner join {{ ref('session_sequences') }} as sequences
        on sequences.session_key = steps.session_key

),

all_skus as (

    select sku from {{ ref('stg_sku_content') }}
    union
    select sku from sequence_skus

)

select
    all_skus.sku,
    content.category_path,
    content.category_leaf,
    content.category_depth,
    content.price_bucket,
    content.sku is not null as in_catalog,
    coalesce(train_counts.train_interactions, 0) as train_popularity,
    coalesce(train_counts.train_sessions, 0) as train_sessions
from all_skus
left join {{ ref('stg_sku_content') }} as content
    on content.sku = all_skus.sku
left join train_counts
    on train_counts.sku = all_skus.sku
