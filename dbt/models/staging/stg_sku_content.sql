-- The catalog: one row per SKU (the latest load's row), category path parsed, price bucket numeric.
with source as (

    select * from {{ source('coveo', 'raw_sku_content') }}

),

loads as (

    -- A raw row names its load; when that load ran and for which tenant is recorded once, there.
    select etl_id, etl_timestamp, tenant
    from {{ source('coveo', 'raw_loads') }}
    where target_table = 'raw_sku_content'

),

normalized as (

    select
        lower(product_sku_hash) as sku,
        nullif(category_hash, '') as category_path,
        -- A price bucket arrives as DOUBLE ("7.0" in the files); it is a decile.
        cast(price_bucket as integer) as price_bucket,
        description_vector,
        image_vector,
        source_line,
        etl_id,
        etl_timestamp
    from source
    inner join loads using (etl_id)

),

latest as (

    select
        *,
        -- Unlike events, a SKU's content can change: the latest load describes it.
        row_number() over (
            partition by sku
            order by etl_timestamp desc, source_line desc
        ) as recency
    from normalized

)

select
    sku,
    category_path,
    nullif(split_part(category_path, '/', 1), '') as category_level_1,
    nullif(split_part(category_path, '/', 2), '') as category_level_2,
    nullif(split_part(category_path, '/', 3), '') as category_level_3,
    nullif(split_part(category_path, '/', -1), '') as category_leaf,
    -- Separators plus one: portable where array functions differ.
    case
        when category_path is null then 0
        else length(category_path) - length(replace(category_path, '/', '')) + 1
    end as category_depth,
    price_bucket,
    description_vector,
    image_vector,
    etl_id,
    etl_timestamp
from latest
where recency = 1
