/**
 * DuckDB's bulk path: the data file is read by DuckDB's own parallel CSV scanner straight into the
 * raw table, each row numbered by its place in the scan (WITH ORDINALITY), while the upload stage
 * checks the same file line by line. Nothing is visible until `commit`, which keeps the rows only
 * when the reader found every line certainly valid and DuckDB's rows reconcile with its lines.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { DATA_FILES, type DataKind } from "../data/schema.ts";
import { quoteIdentifier } from "./identifiers.ts";
import { positionChecksumSql } from "./position-checksum.ts";
import { csvScan } from "./duckdb-csv.ts";
import { LOADS_TABLE, dataColumns, rawTableName } from "./raw-tables.ts";
import type {
  BulkFile,
  BulkLoad,
  BulkLoader,
  LoadCounts,
  LoadMeta,
  LoadRecord,
  Row,
  SqlValue,
} from "./warehouse.ts";

/** What the bulk path needs of the warehouse it belongs to. */
export interface BulkHost {
  readonly connection: DuckDBConnection;
  query(sql: string, params?: SqlValue[]): Promise<Row[]>;
  findLoad(kind: DataKind, sourceHash: string): Promise<LoadRecord | undefined>;
  /** Throws when this etl_id already names a committed load. */
  assertNewLoad(meta: Pick<LoadMeta, "etlId" | "sourceFile">): Promise<void>;
  recordLoad(table: string, meta: LoadMeta, counts: LoadCounts): Promise<void>;
}

/** The column the position checksum weighs each line by. */
const TIMESTAMP_COLUMN = "server_timestamp_epoch_ms";

export function duckDbBulkLoader(host: BulkHost): BulkLoader {
  return {
    async loadedUnderName(kind, sourceFile) {
      const rows = await host.query(
        `SELECT 1 FROM ${LOADS_TABLE} WHERE target_table = $1 AND source_file = $2 LIMIT 1`,
        [rawTableName(kind), sourceFile],
      );
      return rows.length > 0;
    },
    begin: (kind, meta, file) => beginBulkLoad(host, kind, meta, file),
  };
}

async function beginBulkLoad(
  host: BulkHost,
  kind: DataKind,
  meta: Omit<LoadMeta, "sourceHash">,
  file: BulkFile,
): Promise<BulkLoad> {
  if (!(DATA_FILES[kind].columns as readonly string[]).includes(TIMESTAMP_COLUMN)) {
    throw new Error(`${DATA_FILES[kind].file} has no ${TIMESTAMP_COLUMN}: no bulk path for it`);
  }
  const table = rawTableName(kind);
  const { connection } = host;
  await host.assertNewLoad(meta);
  await connection.run("BEGIN TRANSACTION");
  // Rows carry their line, so the table need not keep the scan's order: without that promise
  // DuckDB's threads write their chunks as they finish them.
  const inserted = connection
    .run("SET preserve_insertion_order = false")
    .then(() => connection.run(insertSql(kind, file), [meta.etlId]))
    .finally(() => connection.run("RESET preserve_insertion_order"))
    .then(() => undefined);
  // Awaited by commit or rollback; until then Node must not call a failure unhandled.
  inserted.catch(() => undefined);
  let open = true;
  const rollback = async () => {
    if (!open) return;
    open = false;
    // A file found unclean early need not be read to its end.
    connection.interrupt();
    await inserted.catch(() => undefined);
    await connection.run("ROLLBACK").catch(() => undefined);
  };
  return {
    inserted,
    rollback,
    async commit(sourceHash, counts, positionChecksum) {
      try {
        await inserted;
        const existing = await host.findLoad(kind, sourceHash);
        if (existing) {
          await rollback();
          return { existing };
        }
        const [row] = await host.query(
          `SELECT count(*) AS n, ${positionChecksumSql("source_line", TIMESTAMP_COLUMN)} AS checksum FROM ${quoteIdentifier(table)} WHERE etl_id = $1`,
          [meta.etlId],
        );
        const rows = Number(row?.n ?? 0);
        const checksum = Number(row?.checksum ?? -1);
        if (rows !== counts.rowsLoaded || checksum !== positionChecksum) {
          await rollback();
          return {
            mismatch: `DuckDB read ${rows} rows (position checksum ${checksum}) where the reader checked ${counts.rowsLoaded} lines (${positionChecksum})`,
          };
        }
        await host.recordLoad(table, { ...meta, sourceHash }, counts);
        open = false;
        const record = await host.findLoad(kind, sourceHash);
        if (!record) throw new Error(`the load record of ${meta.sourceFile} vanished after COMMIT`);
        return { record };
      } catch (error) {
        await rollback();
        throw error;
      }
    },
  };
}

/**
 * The file as it is on disk: header on line 1 (so row n is line n + 1), the CSV dialect the
 * reader's fast path accepts, empty fields as NULL as the staged path has them, and the types of
 * the raw table. DuckDB skips blank lines, so the reader only vouches for files without blank
 * lines before their last row.
 */
function insertSql(kind: DataKind, file: BulkFile): string {
  const columns = dataColumns(kind).filter((c) => c.name !== "source_line");
  const names = columns.map((c) => `f.${quoteIdentifier(c.name)}`).join(", ");
  const scan = csvScan(file.path, columns, { header: true, gzip: file.gzip });
  return (
    `INSERT INTO ${quoteIdentifier(rawTableName(kind))} ` +
    `SELECT ${names}, f.ordinality + 1, $1 FROM ${scan} WITH ORDINALITY AS f`
  );
}
