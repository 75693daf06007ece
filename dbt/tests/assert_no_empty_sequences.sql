-- Every sequence holds at least min_sequence_length items and its length matches its row count.
select sequences.session_key, sequences.sequence_length, count(steps.sku) as steps
from {{ ref('session_sequences') }} as sequences
left join {{ ref('int_session_interactions') }} as steps
    on steps.session_key = sequences.session_key
group by sequences.session_key, sequences.sequence_length
having count(steps.sku) < {{ var('min_sequence_length') }}
    or count(steps.sku) <> sequences.sequence_length
