-- The product interactions that make up training sequences, in time order, with consecutive
-- repeats of one SKU collapsed (a view, add and purchase of one item are one step).
with interactions as (

    select
        session_key,
        session_id,
        event_order,
        event_ms,
        sku,
        lag(sku) over (partition by session_key order by event_order) as previous_sku
    from {{ ref('int_sessionized_events') }}
    where product_action in {{ sql_string_list(var('sequence_actions')) }}
      and sku is not null

),

kept as (

    select *
    from interactions
    {% if var('collapse_repeats') %}
    where previous_sku is null or previous_sku <> sku
    {% endif %}

)

select
    session_key,
    session_id,
    cast(row_number() over (partition by session_key order by event_order) as integer) as position,
    event_order,
    event_ms,
    sku
from kept
