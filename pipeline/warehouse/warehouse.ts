/**
 * The warehouse the pipeline loads into and dbt transforms: DuckDB embedded by default,
 * Snowflake when configured. Both implement the same contract with SQL of the same meaning.
 */
import type { DataKind } from "../data/schema.ts";

export type SqlValue = string | number | bigint | boolean | null;
export type Row = Record<string, SqlValue>;

/** Load metadata stored on every raw row, reject and load record. */
export interface LoadMeta {
  /** Unique per load of one file: `<run id>:<kind>`. */
  etlId: string;
  /** ISO-8601 timestamp of the load. */
  etlTimestamp: string;
  /** Tenant / API key the rows belong to. */
  tenant: string;
  /** File name as given by the user (basename). */
  sourceFile: string;
  /** sha256 (hex) of the file's bytes: the idempotency key. */
  sourceHash: string;
}

/**
 * One file's load, already validated by the reader: `rowsPath` is a headerless CSV of the
 * raw table's data columns followed by the source line number; `rejectsPath` a headerless CSV of
 * (line, column_index, column_name, reason, raw_text). Both written with RFC 4180 quoting.
 */
export interface LoadRequest {
  kind: DataKind;
  meta: LoadMeta;
  rowsPath: string;
  rejectsPath: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

export interface LoadRecord {
  kind: DataKind;
  etlId: string;
  etlTimestamp: string;
  tenant: string;
  sourceFile: string;
  sourceHash: string;
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

export interface Warehouse {
  readonly kind: "duckdb" | "snowflake";
  /** Where it is, safe to print (no secrets). */
  readonly description: string;
  /** Creates the raw tables, the rejects table and the loads table when missing. */
  ensureRawSchema(): Promise<void>;
  /** The committed load of this file content into this kind's table, if any. */
  findLoad(kind: DataKind, sourceHash: string): Promise<LoadRecord | undefined>;
  /**
   * Loads rows, rejects and the load record in one transaction: after a crash either all of it
   * is visible or none. Loading a hash that is already recorded is a no-op that returns the
   * existing record (a retry after a lost acknowledgement must not duplicate rows).
   */
  load(request: LoadRequest): Promise<{ record: LoadRecord; inserted: boolean }>;
  /** Row count of a raw table (or any table the warehouse holds). */
  count(table: string): Promise<number>;
  query(sql: string, params?: SqlValue[]): Promise<Row[]>;
  close(): Promise<void>;
}
