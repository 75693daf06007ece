-- Per session, the time-ordered SKUs a model trains on: sessions with at least
-- `min_sequence_length` items (a shorter one has nothing to predict).
with sequences as (

    select
        session_key,
        count(*) as sequence_length,
        {{ array_agg_ordered('sku', 'position') }} as items
    from {{ ref('int_session_interactions') }}
    group by session_key

)

select
    stats.session_key,
    stats.session_id,
    stats.session_number,
    stats.session_start_ms,
    stats.session_end_ms,
    stats.session_start_date,
    sequences.sequence_length,
    sequences.items
from sequences
inner join {{ ref('int_session_stats') }} as stats
    on stats.session_key = sequences.session_key
where sequences.sequence_length >= {{ var('min_sequence_length') }}
