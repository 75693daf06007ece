-- One row per session: when it started and ended, and how many events of each kind it holds.
select
    session_key,
    min(session_id) as session_id,
    min(session_number) as session_number,
    min(event_ms) as session_start_ms,
    max(event_ms) as session_end_ms,
    {{ epoch_ms_to_date('min(event_ms)') }} as session_start_date,
    (max(event_ms) - min(event_ms)) / 1000.0 as duration_seconds,
    count(*) as n_events,
    sum(case when event_type = 'pageview' then 1 else 0 end) as n_pageviews,
    sum(case when product_action = 'detail' then 1 else 0 end) as n_detail,
    sum(case when product_action = 'add' then 1 else 0 end) as n_add,
    sum(case when product_action = 'purchase' then 1 else 0 end) as n_purchase,
    sum(case when product_action = 'remove' then 1 else 0 end) as n_remove,
    sum(case when product_action = 'click' then 1 else 0 end) as n_click,
    count(distinct sku) as n_distinct_skus
from {{ ref('int_sessionized_events') }}
group by session_key
