-- A test session that starts before some train session ends would let the model train on the
-- future it is tested on. Returns the offending test sessions.
select test.session_key, test.session_start_ms, train.last_train_end_ms
from {{ ref('session_splits') }} as test
cross join (
    select max(session_end_ms) as last_train_end_ms
    from {{ ref('session_splits') }}
    where split = 'train'
) as train
where test.split = 'test'
  and test.session_start_ms <= train.last_train_end_ms
