-- Browsing events typed, renamed and normalized, one row per distinct event across loads.
with source as (

    select * from {{ source('coveo', 'raw_browsing_events') }}

),

loads as (

    -- A raw row names its load; when that load ran and for which tenant is recorded once, there.
    select etl_id, etl_timestamp, tenant
    from {{ source('coveo', 'raw_loads') }}
    where target_table = 'raw_browsing_events'

),

normalized as (

    select
        session_id_hash as session_id,
        -- `event` is the older name of `event_product` in the challenge's first documentation.
        case when event_type = 'event' then 'event_product' else event_type end as event_type,
        nullif(product_action, '') as product_action,
        -- The real files mix upper- and lower-case hashes of the same SKU.
        lower(nullif(product_sku_hash, '')) as sku,
        server_timestamp_epoch_ms as event_ms,
        {{ epoch_ms_to_timestamp('server_timestamp_epoch_ms') }} as event_at,
        hashed_url as url_hash,
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
        -- The raw table is append-only: a repeated or overlapping load brings the same event
        -- again. The first load's copy wins, so a reload changes nothing downstream.
        row_number() over (
            partition by session_id, event_ms, sku, product_action
            order by etl_timestamp, source_line
        ) as copy_number
    from normalized

)

select
    session_id,
    event_type,
    product_action,
    sku,
    event_ms,
    event_at,
    url_hash,
    source_line,
    etl_id,
    etl_timestamp,
    tenant
from ranked
where copy_number = 1
