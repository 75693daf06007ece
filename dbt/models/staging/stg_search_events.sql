-- Searches typed and renamed, one row per distinct search across loads.
with source as (

    select * from {{ source('coveo', 'raw_search_events') }}

),

loads as (

    -- A raw row names its load; when that load ran and for which tenant is recorded once, there.
    select etl_id, etl_timestamp, tenant
    from {{ source('coveo', 'raw_loads') }}
    where target_table = 'raw_search_events'

),

normalized as (

    select
        session_id_hash as session_id,
        server_timestamp_epoch_ms as event_ms,
        {{ epoch_ms_to_timestamp('server_timestamp_epoch_ms') }} as event_at,
        query_vector,
        -- Lists of hashes are JSON arrays as text; lower-casing the text lower-cases every hash.
        lower(product_skus_hash) as result_skus,
        lower(clicked_skus_hash) as clicked_skus,
        source_line,
        etl_id,
        etl_timestamp,
        tenant
    from source
    inner join loads using (etl_id)

),

ranked as (

    select
        *,
        row_number() over (
            partition by session_id, event_ms, query_vector, result_skus, clicked_skus
            order by etl_timestamp, source_line
        ) as copy_number
    from normalized

)

select
    session_id,
    event_ms,
    event_at,
    query_vector,
    result_skus,
    clicked_skus,
    source_line,
    etl_id,
    etl_timestamp,
    tenant
from ranked
where copy_number = 1
