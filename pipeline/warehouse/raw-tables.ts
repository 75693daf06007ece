/**
 * The raw layer's tables, shared by both warehouses so that their DDL says the same thing.
 * Data columns keep the files' text (list columns normalized to JSON arrays by the reader);
 * typing and renaming belong to dbt's staging models.
 */
import { DATA_FILES, type DataKind } from "../data/schema.ts";
import type { LoadRecord, Row } from "./warehouse.ts";

export type ColumnType = "varchar" | "bigint" | "double" | "timestamp" | "integer";

export interface ColumnDef {
  name: string;
  type: ColumnType;
}

const DATA_COLUMN_TYPES: Record<DataKind, Record<string, ColumnType>> = {
  browsing: { server_timestamp_epoch_ms: "bigint" },
  search: { server_timestamp_epoch_ms: "bigint" },
  catalog: { price_bucket: "double" },
  served: { server_timestamp_epoch_ms: "bigint" },
};

/** The load a row came with: the one lineage column every raw row keeps. */
const ETL_ID: ColumnDef = { name: "etl_id", type: "varchar" };

export const LOAD_META_COLUMNS: ColumnDef[] = [
  ETL_ID,
  { name: "etl_timestamp", type: "timestamp" },
  { name: "tenant", type: "varchar" },
  { name: "source_file", type: "varchar" },
  { name: "source_hash", type: "varchar" },
];

/** Data columns in file order, then the source line: the layout of a LoadTransaction.addRows file. */
export function dataColumns(kind: DataKind): ColumnDef[] {
  const types = DATA_COLUMN_TYPES[kind];
  return [
    ...DATA_FILES[kind].columns.map((name) => ({ name, type: types[name] ?? "varchar" })),
    { name: "source_line", type: "bigint" },
  ];
}

/**
 * A raw row carries its data, its line and the load it came with; when, for whom and from which
 * file that load ran is said once, in raw_loads (the staging models join it by etl_id). Five
 * constants on every row cost the bulk load a third of its time for nothing a join cannot give.
 */
export function rawTableColumns(kind: DataKind): ColumnDef[] {
  return [...dataColumns(kind), ETL_ID];
}

/**
 * Lineage columns raw tables carried on every row before it moved to raw_loads. A warehouse
 * created then has them dropped by ensureRawSchema: raw_loads holds the same values per etl_id.
 */
export const RETIRED_RAW_COLUMNS = LOAD_META_COLUMNS.filter((c) => c !== ETL_ID).map((c) => c.name);

export const REJECTS_TABLE = "raw_rejects";
/** The layout of a LoadTransaction.addRejects file, then the load metadata and the target table. */
export const REJECT_COLUMNS: ColumnDef[] = [
  { name: "line", type: "bigint" },
  { name: "column_index", type: "integer" },
  { name: "column_name", type: "varchar" },
  { name: "reason", type: "varchar" },
  { name: "raw_text", type: "varchar" },
];
export const REJECTS_TABLE_COLUMNS: ColumnDef[] = [
  ...REJECT_COLUMNS,
  { name: "target_table", type: "varchar" },
  ...LOAD_META_COLUMNS,
];

export const LOADS_TABLE = "raw_loads";
export const LOADS_TABLE_COLUMNS: ColumnDef[] = [
  { name: "target_table", type: "varchar" },
  ...LOAD_META_COLUMNS,
  { name: "rows_read", type: "bigint" },
  { name: "rows_loaded", type: "bigint" },
  { name: "rows_rejected", type: "bigint" },
];

export function rawTableName(kind: DataKind): string {
  return DATA_FILES[kind].table;
}

/** A raw_loads row (column names as both warehouses return them) as a LoadRecord. */
export function loadRecordFromRow(kind: DataKind, row: Row): LoadRecord {
  return {
    kind,
    etlId: String(row.etl_id),
    etlTimestamp: String(row.etl_timestamp),
    tenant: String(row.tenant),
    sourceFile: String(row.source_file),
    sourceHash: String(row.source_hash),
    rowsRead: Number(row.rows_read),
    rowsLoaded: Number(row.rows_loaded),
    rowsRejected: Number(row.rows_rejected),
  };
}
