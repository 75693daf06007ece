-- The co-occurrence baseline: how often `next_sku` directly follows `sku` in train sequences.
with steps as (

    select
        steps.session_key,
        steps.sku,
        lead(steps.sku) over (partition by steps.session_key order by steps.position) as next_sku
    from {{ ref('int_session_interactions') }} as steps
    inner join {{ ref('session_splits') }} as splits
        on splits.session_key = steps.session_key
    where splits.split = 'train'

)

select
    sku,
    next_sku,
    count(*) as transitions
from steps
where next_sku is not null
group by sku, next_sku
