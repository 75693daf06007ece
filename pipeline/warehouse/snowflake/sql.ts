/**
 * The SQL text the Snowflake warehouse sends, generated from the shared column definitions so
 * that it says what DuckDB's does. Identifiers are validated and rendered here; values go
 * through binds everywhere Snowflake accepts them. The one exception is COPY INTO's
 * transformation SELECT, where bind support is not documented: the load metadata is written
 * there as literals, each one validated and escaped by `sqlString`.
 */
import type { DataKind } from "../../data/schema.ts";
import { validateIdentifier } from "../identifiers.ts";
import {
  LOADS_TABLE,
  LOADS_TABLE_COLUMNS,
  REJECTS_TABLE,
  REJECTS_TABLE_COLUMNS,
  RETIRED_RAW_COLUMNS,
  rawTableColumns,
  rawTableName,
  type ColumnDef,
  type ColumnType,
} from "../raw-tables.ts";
import { RAW_KINDS } from "../../data/schema.ts";
import type { LoadMeta, SqlValue } from "../warehouse.ts";

export const SNOWFLAKE_TYPES: Record<ColumnType, string> = {
  varchar: "VARCHAR",
  bigint: "NUMBER(38,0)",
  double: "FLOAT",
  timestamp: "TIMESTAMP_NTZ",
  integer: "NUMBER(38,0)",
};

/**
 * A validated identifier, rendered quoted and upper-cased. Upper case is what Snowflake stores
 * for an unquoted name, so `raw_loads` here is the table dbt-snowflake (unquoted by default)
 * and a person typing `select * from raw_loads` both find; the quotes keep a name that is
 * also a keyword (a table called `order`) legal.
 */
export function sfIdentifier(name: string, what = "identifier"): string {
  return `"${validateIdentifier(name, what).toUpperCase()}"`;
}

/**
 * A table's stage (`@%TABLE`). Unquoted: the validated pattern is a legal unquoted name, and
 * stage references are parsed by both the server and the driver's PUT handling, so the plain
 * form is the safest spelling.
 */
export function tableStage(table: string): string {
  return `@%${validateIdentifier(table, "table name").toUpperCase()}`;
}

export function createTableSql(table: string, columns: readonly ColumnDef[]): string {
  const defs = columns.map(
    (c) => `${sfIdentifier(c.name, "column name")} ${SNOWFLAKE_TYPES[c.type]}`,
  );
  return `CREATE TABLE IF NOT EXISTS ${sfIdentifier(table, "table name")} (${defs.join(", ")})`;
}

/** The DDL of the raw layer, in the order DuckDB creates it. */
export function rawSchemaDdl(): string[] {
  return [
    ...RAW_KINDS.flatMap((kind) => [
      createTableSql(rawTableName(kind), rawTableColumns(kind)),
      dropRetiredColumnsSql(rawTableName(kind)),
    ]),
    createTableSql(REJECTS_TABLE, REJECTS_TABLE_COLUMNS),
    createTableSql(LOADS_TABLE, LOADS_TABLE_COLUMNS),
  ];
}

/** A raw table created before its lineage moved to raw_loads loses those columns (see raw-tables). */
function dropRetiredColumnsSql(table: string): string {
  const columns = RETIRED_RAW_COLUMNS.map((c) => sfIdentifier(c, "column name"));
  return `ALTER TABLE ${sfIdentifier(table, "table name")} DROP COLUMN IF EXISTS ${columns.join(", ")}`;
}

/**
 * A Snowflake string literal. Backslash is an escape character inside Snowflake's single quotes,
 * so it is doubled along with the quote; control characters have no business in load metadata
 * and are refused rather than escaped.
 */
export function sqlString(value: string, what = "value"): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw new Error(`the ${what} contains a control character and cannot be written into SQL`);
  }
  return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

/**
 * The load timestamp as `YYYY-MM-DD HH:MM:SS.mmm` (UTC wall clock): a form TIMESTAMP_NTZ's
 * AUTO input format reads the same way in every session, unlike an ISO string's `T…Z` suffix,
 * whose handling depends on TIMESTAMP_INPUT_FORMAT.
 */
export function snowflakeTimestamp(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`the load timestamp "${iso}" is not a date`);
  return date.toISOString().replace("T", " ").replace("Z", "");
}

const SOURCE_HASH = /^[0-9a-f]{64}$/;

/** Checks the parts of a load's metadata that reach SQL text or file names. */
export function validateLoadMeta(meta: LoadMeta): void {
  if (!SOURCE_HASH.test(meta.sourceHash)) {
    throw new Error(`the source hash "${meta.sourceHash}" is not a lowercase hex sha256`);
  }
  snowflakeTimestamp(meta.etlTimestamp);
  sqlString(meta.etlId, "etl id");
  sqlString(meta.tenant, "tenant");
  sqlString(meta.sourceFile, "source file name");
}

/**
 * A staged chunk's name: content-addressed (kind, part, the source file's hash, the chunk's
 * number and the digest of the chunk's CSV), never the etl id. A retry after a failure stages
 * the very same names, so PUT with OVERWRITE = FALSE skips the upload, and COPY's FILES list
 * names files whose load Snowflake's load history remembers. The CSV digest covers a reader
 * that changed between two attempts: different rows, different name.
 */
export function stagedFileName(
  kind: DataKind,
  part: "rows" | "rejects",
  sourceHash: string,
  chunk: number,
  csvDigest: string,
): string {
  if (
    !SOURCE_HASH.test(sourceHash) ||
    !/^[0-9a-f]{16,64}$/.test(csvDigest) ||
    !Number.isSafeInteger(chunk) ||
    chunk < 0
  ) {
    throw new Error("staged file names are built from hex digests and a chunk number only");
  }
  return `${kind}-${part}-${sourceHash}-${chunk}-${csvDigest.slice(0, 16)}.csv`;
}

/** Characters a local path may not contain inside PUT's quoted file URI (or that PUT globs). */
const UNSAFE_PATH = /['\n\r\0*?]/;

/**
 * PUT of one local file into a table's stage. OVERWRITE = FALSE: a name already staged (an
 * earlier, failed attempt) is skipped, which is safe because the name is content-addressed.
 * AUTO_COMPRESS gzips on the client, so the staged name gains ".gz". SOURCE_COMPRESSION stays
 * at its default (AUTO_DETECT, which takes a ".csv" name as uncompressed): snowflake-sdk 3.3's
 * PUT throws a TypeError on SOURCE_COMPRESSION = NONE (it looks "none" up as a codec).
 */
export function putSql(localPath: string, table: string): string {
  if (UNSAFE_PATH.test(localPath)) {
    throw new Error(
      `cannot PUT ${JSON.stringify(localPath)}: the path contains a quote, a wildcard or a line break`,
    );
  }
  if (!localPath.endsWith(".csv")) throw new Error(`PUT stages .csv files only, not ${localPath}`);
  const uri = `file://${localPath.startsWith("/") ? "" : "/"}${localPath.replaceAll("\\", "/")}`;
  return `PUT '${uri}' ${tableStage(table)} OVERWRITE = FALSE AUTO_COMPRESS = TRUE`;
}

/**
 * How the reader writes rowsPath and rejectsPath: RFC 4180, no header, fields quoted only when
 * needed, an empty unquoted field for NULL. Snowflake's defaults differ in three ways that
 * matter: backslash escapes in unquoted fields (ESCAPE_UNENCLOSED_FIELD), `\N` read as NULL
 * (NULL_IF) and no quote handling; all three are set explicitly.
 */
export const CSV_FILE_FORMAT =
  "TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' SKIP_HEADER = 0 " +
  "FIELD_OPTIONALLY_ENCLOSED_BY = '\"' ESCAPE = NONE ESCAPE_UNENCLOSED_FIELD = NONE " +
  "EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () TRIM_SPACE = FALSE COMPRESSION = GZIP ENCODING = 'UTF8'";

export interface CopySpec {
  table: string;
  /** The target table's columns, in table order. */
  columns: readonly ColumnDef[];
  /** How many leading columns come from the file ($1 … $n), in file order. */
  fileColumns: number;
  /** Values of the remaining columns, by column name. */
  constants: Record<string, string>;
  /** The staged files' names as the stage lists them (with ".gz"); at most 1000. */
  stagedFiles: readonly string[];
}

/**
 * COPY INTO with a transformation: the file's columns, then the load metadata. FILES names the
 * staged chunks, so a COPY repeated after a chunk was loaded skips it by Snowflake's own load
 * history (and the rows_loaded check turns that into an error rather than a silent 0).
 */
export function copyIntoSql(spec: CopySpec): string {
  const targets = spec.columns.map((c) => sfIdentifier(c.name, "column name"));
  const select = spec.columns.map((column, index) => {
    if (index < spec.fileColumns) return `$${index + 1}`;
    const value = spec.constants[column.name];
    if (value === undefined) throw new Error(`no value for ${spec.table}.${column.name} in COPY`);
    const literal = sqlString(value, column.name);
    return column.type === "timestamp" ? `${literal}::TIMESTAMP_NTZ` : literal;
  });
  if (spec.stagedFiles.length === 0 || spec.stagedFiles.length > 1000) {
    throw new Error(`COPY names 1 to 1000 files, not ${spec.stagedFiles.length}`);
  }
  for (const file of spec.stagedFiles) {
    if (!/^[A-Za-z0-9._-]+$/.test(file)) throw new Error(`invalid staged file name "${file}"`);
  }
  return (
    `COPY INTO ${sfIdentifier(spec.table, "table name")} (${targets.join(", ")}) ` +
    `FROM (SELECT ${select.join(", ")} FROM ${tableStage(spec.table)}) ` +
    `FILES = (${spec.stagedFiles.map((f) => `'${f}'`).join(", ")}) FILE_FORMAT = (${CSV_FILE_FORMAT}) ON_ERROR = ABORT_STATEMENT`
  );
}

/** The load metadata by column name, as COPY's constants (timestamps in snowflakeTimestamp form). */
export function loadMetaConstants(meta: LoadMeta): Record<string, string> {
  return {
    etl_id: meta.etlId,
    etl_timestamp: snowflakeTimestamp(meta.etlTimestamp),
    tenant: meta.tenant,
    source_file: meta.sourceFile,
    source_hash: meta.sourceHash,
  };
}

/**
 * Lower-case aliases make the rows look like DuckDB's; the timestamp comes back as the ISO text
 * DuckDB's record carries, rather than as the driver's timestamp object.
 */
function selectLoadColumns(): string {
  return LOADS_TABLE_COLUMNS.map((c) => {
    const id = sfIdentifier(c.name, "column name");
    const expr =
      c.type === "timestamp" ? `TO_VARCHAR(${id}, 'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"')` : id;
    return `${expr} AS "${c.name}"`;
  }).join(", ");
}

/** Binds: target_table, source_hash. */
export function findLoadSql(): string {
  return (
    `SELECT ${selectLoadColumns()} FROM ${sfIdentifier(LOADS_TABLE)} ` +
    `WHERE ${sfIdentifier("target_table")} = ? AND ${sfIdentifier("source_hash")} = ? ` +
    `ORDER BY ${sfIdentifier("etl_timestamp")} LIMIT 1`
  );
}

/**
 * Binds: the raw_loads columns in table order. INSERT … SELECT rather than VALUES: Snowflake
 * refuses some function calls inside a VALUES list, and the timestamp needs one.
 */
export function insertLoadSql(): string {
  const columns = LOADS_TABLE_COLUMNS.map((c) => sfIdentifier(c.name, "column name"));
  const values = LOADS_TABLE_COLUMNS.map((c) =>
    c.type === "timestamp" ? "TO_TIMESTAMP_NTZ(?)" : "?",
  );
  return `INSERT INTO ${sfIdentifier(LOADS_TABLE)} (${columns.join(", ")}) SELECT ${values.join(", ")}`;
}

export function countSql(table: string): string {
  return `SELECT COUNT(*) AS "n" FROM ${sfIdentifier(table, "table name")}`;
}

/** Run once per connection: each is NULL when the object does not exist or the role cannot use it. */
export const SESSION_CONTEXT_SQL =
  'SELECT CURRENT_WAREHOUSE() AS "warehouse", CURRENT_DATABASE() AS "database", CURRENT_SCHEMA() AS "schema", CURRENT_ROLE() AS "role"';

/**
 * Callers write DuckDB's `$1` placeholders; Snowflake binds `?` or `:1` (its `$1` means a staged
 * file's first column). Rewrites `$n` to `:n` outside string literals, quoted identifiers,
 * dollar-quoted blocks and comments. Only used when binds are given.
 */
export function toSnowflakePlaceholders(sql: string): string {
  let out = "";
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i] as string;
    const next = sql[i + 1];
    let end = i + 1;
    if (ch === "'") {
      end = i + 1;
      while (end < sql.length) {
        if (sql[end] === "\\") end += 2;
        else if (sql[end] === "'" && sql[end + 1] === "'") end += 2;
        else if (sql[end] === "'") {
          end++;
          break;
        } else end++;
      }
    } else if (ch === '"') {
      const close = sql.indexOf('"', i + 1);
      end = close === -1 ? sql.length : close + 1;
    } else if (ch === "$" && next === "$") {
      const close = sql.indexOf("$$", i + 2);
      end = close === -1 ? sql.length : close + 2;
    } else if (ch === "-" && next === "-") {
      const close = sql.indexOf("\n", i);
      end = close === -1 ? sql.length : close + 1;
    } else if (ch === "/" && next === "*") {
      const close = sql.indexOf("*/", i + 2);
      end = close === -1 ? sql.length : close + 2;
    } else if (
      ch === "$" &&
      next !== undefined &&
      /[0-9]/.test(next) &&
      !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? "")
    ) {
      out += ":";
      i++;
      continue;
    }
    out += sql.slice(i, end);
    i = end;
  }
  return out;
}

/** Snowflake binds take strings, numbers, booleans and NULL; a bigint travels as its text. */
export function toSnowflakeBind(value: SqlValue): string | number | boolean | null {
  return typeof value === "bigint" ? value.toString() : value;
}
