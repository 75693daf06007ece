/**
 * The embedded default warehouse: a DuckDB file under `.mlops/`.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from "@duckdb/node-api";
import type { DataKind } from "../data/schema.ts";
import {
  LOADS_TABLE,
  LOADS_TABLE_COLUMNS,
  REJECTS_TABLE,
  REJECTS_TABLE_COLUMNS,
  REJECT_COLUMNS,
  RETIRED_RAW_COLUMNS,
  dataColumns,
  loadRecordFromRow,
  rawTableColumns,
  rawTableName,
  type ColumnDef,
} from "./raw-tables.ts";
import { quoteIdentifier } from "./identifiers.ts";
import { duckDbBulkLoader } from "./duckdb-bulk.ts";
import { DUCKDB_TYPES, csvScan } from "./duckdb-csv.ts";
import type {
  BulkLoader,
  LoadCounts,
  LoadMeta,
  LoadRecord,
  LoadTransaction,
  Row,
  SqlValue,
  Warehouse,
} from "./warehouse.ts";
import { RAW_KINDS } from "../data/schema.ts";

export class DuckDbWarehouse implements Warehouse {
  readonly kind = "duckdb" as const;

  readonly bulk: BulkLoader;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
  ) {
    this.bulk = duckDbBulkLoader({
      connection,
      query: (sql, params) => this.query(sql, params),
      findLoad: (kind, hash) => this.findLoad(kind, hash),
      assertNewLoad: (meta) => this.assertNewLoad(meta),
      recordLoad: (table, meta, counts) => this.recordLoad(table, meta, counts),
    });
  }

  static async open(path: string): Promise<DuckDbWarehouse> {
    if (path !== ":memory:") await mkdir(dirname(path), { recursive: true });
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const hint = /lock/i.test(message)
        ? " Another pipeline process holds the file: wait for it or stop it."
        : "";
      throw new Error(`cannot open the DuckDB warehouse ${path}: ${message}.${hint}`);
    }
    return new DuckDbWarehouse(path, instance, await instance.connect());
  }

  get description(): string {
    return `duckdb:${this.path}`;
  }

  async ensureRawSchema(): Promise<void> {
    for (const kind of RAW_KINDS) {
      const table = rawTableName(kind);
      await this.createTable(table, rawTableColumns(kind));
      for (const column of RETIRED_RAW_COLUMNS) {
        await this.connection.run(
          `ALTER TABLE ${quoteIdentifier(table)} DROP COLUMN IF EXISTS ${quoteIdentifier(column)}`,
        );
      }
    }
    await this.createTable(REJECTS_TABLE, REJECTS_TABLE_COLUMNS);
    await this.createTable(LOADS_TABLE, LOADS_TABLE_COLUMNS);
  }

  private async createTable(name: string, columns: ColumnDef[]): Promise<void> {
    const defs = columns.map((c) => `${quoteIdentifier(c.name)} ${DUCKDB_TYPES[c.type]}`);
    await this.connection.run(
      `CREATE TABLE IF NOT EXISTS ${quoteIdentifier(name)} (${defs.join(", ")})`,
    );
  }

  async findLoad(kind: DataKind, sourceHash: string): Promise<LoadRecord | undefined> {
    const rows = await this.query(
      `SELECT * FROM ${LOADS_TABLE} WHERE target_table = $1 AND source_hash = $2 ORDER BY etl_timestamp LIMIT 1`,
      [rawTableName(kind), sourceHash],
    );
    const row = rows[0];
    return row ? loadRecordFromRow(kind, row) : undefined;
  }

  async beginLoad(
    kind: DataKind,
    meta: LoadMeta,
  ): Promise<LoadTransaction | { existing: LoadRecord }> {
    const table = rawTableName(kind);
    const metaValues = [
      meta.etlId,
      meta.etlTimestamp,
      meta.tenant,
      meta.sourceFile,
      meta.sourceHash,
    ];
    // One transaction for rows, rejects and the load record: a process killed in the middle
    // leaves an uncommitted transaction that DuckDB discards when the file is next opened.
    await this.connection.run("BEGIN TRANSACTION");
    const existing = await this.findLoad(kind, meta.sourceHash).catch(async (error: unknown) => {
      await this.connection.run("ROLLBACK");
      throw error;
    });
    if (existing) {
      await this.connection.run("ROLLBACK");
      return { existing };
    }
    await this.assertNewLoad(meta).catch(async (error: unknown) => {
      await this.connection.run("ROLLBACK");
      throw error;
    });
    // Statements on one connection must not overlap: every step waits for the one before, while
    // the caller goes on staging the next chunk.
    let queue: Promise<void> = Promise.resolve();
    let failed = false;
    const step = (work: () => Promise<unknown>): Promise<void> => {
      const next = queue.then(async () => {
        if (failed) throw new Error("the load transaction already failed");
        await work().catch((error: unknown) => {
          failed = true;
          throw error;
        });
      });
      queue = next.catch(() => undefined);
      return next;
    };
    const rollback = async () => {
      await queue;
      await this.connection.run("ROLLBACK").catch(() => undefined);
    };
    return {
      addRows: (path) =>
        step(() =>
          this.connection.run(
            `INSERT INTO ${quoteIdentifier(table)} SELECT *, $1 FROM ${csvScan(path, dataColumns(kind))}`,
            [meta.etlId],
          ),
        ),
      addRejects: (path) =>
        step(() =>
          this.connection.run(
            `INSERT INTO ${REJECTS_TABLE} SELECT *, $6, $1, $2::TIMESTAMP, $3, $4, $5 FROM ${csvScan(path, REJECT_COLUMNS)}`,
            [...metaValues, table],
          ),
        ),
      commit: async (counts) => {
        try {
          await step(async () => {
            const loaded = await this.countWhere(table, meta.etlId);
            if (loaded !== counts.rowsLoaded) {
              throw new Error(
                `${table} received ${loaded} rows of ${meta.sourceFile} but the reader validated ${counts.rowsLoaded}: the staged chunks are inconsistent`,
              );
            }
            await this.recordLoad(table, meta, counts);
          });
        } catch (error) {
          await rollback();
          throw error;
        }
        const record = await this.findLoad(kind, meta.sourceHash);
        if (!record) throw new Error(`the load record of ${meta.sourceFile} vanished after COMMIT`);
        return record;
      },
      rollback,
    };
  }

  /**
   * An etl_id names one load: a second file of the same kind in the same run would make the
   * staging models' join to raw_loads ambiguous, so it is refused before anything is inserted.
   */
  private async assertNewLoad(meta: Pick<LoadMeta, "etlId" | "sourceFile">): Promise<void> {
    const taken = await this.query(`SELECT source_file FROM ${LOADS_TABLE} WHERE etl_id = $1`, [
      meta.etlId,
    ]);
    if (taken[0]) {
      throw new Error(
        `load ${meta.etlId} already loaded ${String(taken[0].source_file)}; one run loads one file per table: start a new run to load ${meta.sourceFile}`,
      );
    }
  }

  /** The load record, then COMMIT. */
  private async recordLoad(table: string, meta: LoadMeta, counts: LoadCounts): Promise<void> {
    await this.connection.run(
      `INSERT INTO ${LOADS_TABLE} VALUES ($1, $2, $3::TIMESTAMP, $4, $5, $6, $7, $8, $9)`,
      [
        table,
        meta.etlId,
        meta.etlTimestamp,
        meta.tenant,
        meta.sourceFile,
        meta.sourceHash,
        counts.rowsRead,
        counts.rowsLoaded,
        counts.rowsRejected,
      ],
    );
    await this.connection.run("COMMIT");
  }

  private async countWhere(table: string, etlId: string): Promise<number> {
    const rows = await this.query(
      `SELECT count(*) AS n FROM ${quoteIdentifier(table)} WHERE etl_id = $1`,
      [etlId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async count(table: string): Promise<number> {
    const rows = await this.query(`SELECT count(*) AS n FROM ${quoteIdentifier(table)}`);
    return Number(rows[0]?.n ?? 0);
  }

  async query(sql: string, params: SqlValue[] = []): Promise<Row[]> {
    const reader = await this.connection.runAndReadAll(sql, params as DuckDBValue[]);
    return reader.getRowObjectsJS().map((row) => {
      const out: Row = {};
      for (const [key, value] of Object.entries(row)) out[key] = toSqlValue(value);
      return out;
    });
  }

  async close(): Promise<void> {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/** read_csv over a headerless, RFC 4180-quoted file whose columns are known: no sniffing. */

function toSqlValue(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === "bigint") {
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? Number(v) : v));
}
