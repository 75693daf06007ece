/**
 * The Coveo SIGIR eCom 2021 data-challenge files: names, columns and the value domains that the
 * reader validates and the generator writes.
 */
export const DATA_FILES = {
  browsing: {
    file: "browsing_train.csv",
    table: "raw_browsing_events",
    columns: [
      "session_id_hash",
      "event_type",
      "product_action",
      "product_sku_hash",
      "server_timestamp_epoch_ms",
      "hashed_url",
    ],
  },
  search: {
    file: "search_train.csv",
    table: "raw_search_events",
    columns: [
      "session_id_hash",
      "server_timestamp_epoch_ms",
      "query_vector",
      "product_skus_hash",
      "clicked_skus_hash",
    ],
  },
  catalog: {
    file: "sku_to_content.csv",
    table: "raw_sku_content",
    columns: [
      "product_sku_hash",
      "description_vector",
      "category_hash",
      "image_vector",
      "price_bucket",
    ],
  },
} as const;

export type DataKind = keyof typeof DATA_FILES;
export const DATA_KINDS = Object.keys(DATA_FILES) as DataKind[];

/** `event` is the older name of `event_product` in the challenge's first documentation. */
export const EVENT_TYPES = ["pageview", "event_product", "event"] as const;
/** An empty product_action is a plain pageview. */
export const PRODUCT_ACTIONS = ["detail", "add", "purchase", "remove", "click", ""] as const;

export const HASH_LENGTH = 64;
