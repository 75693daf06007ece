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

/** What a finished load adds up to: read = loaded + rejected. */
export interface LoadCounts {
  rowsRead: number;
  rowsLoaded: number;
  rowsRejected: number;
}

/**
 * One file's load in progress, inside one transaction. The reader validates the file and stages
 * it in chunks: `addRows` takes a headerless CSV of the raw table's data columns followed by the
 * source line number, `addRejects` one of (line, column_index, column_name, reason, raw_text),
 * both RFC 4180-quoted. Chunks can be added while the next one is being staged (the warehouse
 * works on its own threads meanwhile); calls are applied in order. `commit` checks the counts and
 * writes the load record; until then nothing is visible, and a crash discards it all.
 */
export interface LoadTransaction {
  addRows(path: string): Promise<void>;
  addRejects(path: string): Promise<void>;
  commit(counts: LoadCounts): Promise<LoadRecord>;
  rollback(): Promise<void>;
}

/**
 * A whole data file the warehouse reads itself, inside one transaction (DuckDB's bulk path): its
 * rows are being inserted, numbered by their place in the file, while the reader checks the same
 * file line by line. `commit` records the load only when the reader found every line valid and
 * the inserted rows reconcile with it (count and position checksum); otherwise nothing is kept.
 */
export interface BulkLoad {
  /** Settles when the insert has finished; rejects with the database's error. */
  readonly inserted: Promise<void>;
  commit(
    sourceHash: string,
    counts: LoadCounts,
    positionChecksum: number,
  ): Promise<{ record: LoadRecord } | { existing: LoadRecord } | { mismatch: string }>;
  rollback(): Promise<void>;
}

/** Where the bulk path reads from: the data file as given, gzip or not. */
export interface BulkFile {
  path: string;
  gzip: boolean;
}

export interface BulkLoader {
  /** Whether a file of this name was loaded into this kind's table before (its content may differ). */
  loadedUnderName(kind: DataKind, sourceFile: string): Promise<boolean>;
  /** Starts the insert; the header line is line 1, its rows lines 2, 3, … */
  begin(kind: DataKind, meta: Omit<LoadMeta, "sourceHash">, file: BulkFile): Promise<BulkLoad>;
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
   * Starts loading one file: rows, rejects and the load record are committed together, so after
   * a crash either all of it is visible or none. Returns the existing record instead when this
   * content is already loaded (checked inside the transaction, so two concurrent uploads of the
   * same file cannot both insert).
   */
  beginLoad(kind: DataKind, meta: LoadMeta): Promise<LoadTransaction | { existing: LoadRecord }>;
  /** A warehouse that can read a clean data file itself, faster than staged chunks. */
  readonly bulk?: BulkLoader;
  /** Row count of a raw table (or any table the warehouse holds). */
  count(table: string): Promise<number>;
  query(sql: string, params?: SqlValue[]): Promise<Row[]>;
  close(): Promise<void>;
}
