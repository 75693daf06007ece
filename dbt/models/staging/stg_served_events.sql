-- Production traffic: each SKU of each session the model was asked about, typed and renamed,
-- one row per distinct event across loads (a log offered to several runs is loaded once anyway).
with source as (

    select * from {{ source('coveo', 'raw_served_events') }}

),

loads as (

    -- A raw row names its load; when that load ran and for which tenant is recorded once, there.
    select etl_id, etl_timestamp, tenant
    from {{ source('coveo', 'raw_loads') }}
    where target_table = 'raw_served_events'

),

normalized as (

    select
        session_id_hash as served_session_id,
        -- Clients send SKUs as they have them; the catalog's hashes are lower-case.
        lower(product_sku_hash) as sku,
        server_timestamp_epoch_ms as event_ms,
        {{ epoch_ms_to_timestamp('server_timestamp_epoch_ms') }} as event_at,
        model_run_id,
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
            partition by served_session_id, event_ms, sku
            order by etl_timestamp, source_line
        ) as copy_number
    from normalized

)

select
    served_session_id,
    sku,
    event_ms,
    event_at,
    model_run_id,
    etl_id,
    etl_timestamp,
    tenant
from ranked
where copy_number = 1
