-- Each split's share of sessions is within split_tolerance of its target. Only judged from
-- 100 sessions on: below that one session moves a share by more than the tolerance.
with shares as (

    select
        split,
        count(*) * 1.0 / sum(count(*)) over () as share,
        sum(count(*)) over () as n_sessions
    from {{ ref('session_splits') }}
    group by split

),

targets as (

    select 'train' as split, {{ var('train_fraction') }} as target
    union all
    select 'validation', {{ var('validation_fraction') }}
    union all
    select 'test', 1 - {{ var('train_fraction') }} - {{ var('validation_fraction') }}

)

select targets.split, targets.target, coalesce(shares.share, 0) as share
from targets
left join shares on shares.split = targets.split
where (select count(*) from {{ ref('session_splits') }}) >= 100
  and abs(coalesce(shares.share, 0) - targets.target) > {{ var('split_tolerance') }}
