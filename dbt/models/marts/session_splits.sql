-- Train / validation / test by session start. The first `train_fraction` of sessions train;
-- the last `1 - train_fraction - validation_fraction` test, except that a test session must
-- start after every train session has ended (no leakage): the few that do not validate instead.
with ranked as (

    select
        session_key,
        session_start_ms,
        session_end_ms,
        sequence_length,
        row_number() over (order by session_start_ms, session_key) as start_rank,
        count(*) over () as n_sessions
    from {{ ref('session_sequences') }}

),

bounds as (

    select
        max(
            case
                when start_rank <= floor(n_sessions * {{ var('train_fraction') }})
                    then session_end_ms
            end
        ) as train_end_ms
    from ranked

)

select
    ranked.session_key,
    ranked.session_start_ms,
    ranked.session_end_ms,
    ranked.sequence_length,
    ranked.start_rank,
    case
        when ranked.start_rank <= floor(ranked.n_sessions * {{ var('train_fraction') }})
            then 'train'
        when ranked.start_rank > floor(
                ranked.n_sessions * ({{ var('train_fraction') }} + {{ var('validation_fraction') }})
            )
            and ranked.session_start_ms > coalesce(bounds.train_end_ms, -1)
            then 'test'
        else 'validation'
    end as split
from ranked
cross join bounds
