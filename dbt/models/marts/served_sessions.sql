-- Per served session, the SKUs the client sent in their order and the model that answered: the
-- production side of the drift checks, next to session_sequences' training side.
with ordered as (

    select
        served_session_id,
        sku,
        event_ms,
        model_run_id,
        row_number() over (partition by served_session_id order by event_ms) as position
    from {{ ref('stg_served_events') }}

)

select
    served_session_id,
    min(model_run_id) as model_run_id,
    min(event_ms) as served_at_ms,
    count(*) as sequence_length,
    {{ array_agg_ordered('sku', 'position') }} as items
from ordered
group by served_session_id
