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
  /** Production traffic (pipeline/monitor/served-events.ts): not a challenge file. */
  served: {
    file: "served_events.csv",
    table: "raw_served_events",
    columns: ["session_id_hash", "product_sku_hash", "server_timestamp_epoch_ms", "model_run_id"],
  },
} as const;

export type DataKind = keyof typeof DATA_FILES;
/** Every raw table's kind, production traffic included. */
export const RAW_KINDS = Object.keys(DATA_FILES) as DataKind[];
/** The kinds a dataset brings (the challenge's three files); served traffic is loaded apart. */
export type DatasetKind = Exclude<DataKind, "served">;
export const DATA_KINDS = RAW_KINDS.filter((kind): kind is DatasetKind => kind !== "served");

/** `event` is the older name of `event_product` in the challenge's first documentation. */
export const EVENT_TYPES = ["pageview", "event_product", "event"] as const;
/** An empty product_action is a plain pageview. */
export const PRODUCT_ACTIONS = ["detail", "add", "purchase", "remove", "click", ""] as const;

export const HASH_LENGTH = 64;
