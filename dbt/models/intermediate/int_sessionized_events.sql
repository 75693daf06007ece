-- Every browsing event with the session it belongs to: inside one session id, a pause of
-- `session_gap_minutes` or more between two consecutive events starts a new session.
-- Every window below has the same partition and order, so the database sorts the events once.
with ordered as (

    select
        *,
        -- Events of one millisecond keep their file order, so the sequence is deterministic.
        row_number() over (
            partition by session_id
            order by event_ms, etl_timestamp, source_line
        ) as event_order,
        case
            when event_ms - lag(event_ms) over (
                partition by session_id
                order by event_ms, etl_timestamp, source_line
            ) < {{ var('session_gap_minutes') }} * 60000 then 0
            else 1
        end as starts_session
    from {{ ref('stg_browsing_events') }}

),

numbered as (

    select
        *,
        sum(starts_session) over (
            partition by session_id
            order by event_ms, etl_timestamp, source_line
            rows between unbounded preceding and current row
        ) as session_number
    from ordered

)

select
    session_id || '-' || cast(session_number as varchar) as session_key,
    session_id,
    cast(session_number as integer) as session_number,
    event_order,
    event_type,
    product_action,
    sku,
    event_ms,
    event_at,
    url_hash,
    tenant
from numbered
