-- The popularity baseline: train interactions per SKU, ranked (ties by SKU, so it is stable).
select
    sku,
    train_popularity,
    cast(row_number() over (order by train_popularity desc, sku) as integer) as popularity_rank
from {{ ref('item_catalog') }}
where train_popularity > 0
