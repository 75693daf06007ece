/**
 * The SQL text the Snowflake warehouse generates, checked as text: it cannot be run here, so
 * every statement is pinned down exactly, and the escaping rules are tried on hostile input.
 */
import { describe, expect, it } from "vitest";
import { classifySnowflakeError } from "../../pipeline/warehouse/snowflake/errors.ts";
import {
  copyIntoSql,
  countSql,
  createTableSql,
  findLoadSql,
  insertLoadSql,
  putSql,
  rawSchemaDdl,
  sfIdentifier,
  snowflakeTimestamp,
  sqlString,
  stagedFileName,
  toSnowflakePlaceholders,
  validateLoadMeta,
} from "../../pipeline/warehouse/snowflake/sql.ts";
import { REJECTS_TABLE_COLUMNS, REJECT_COLUMNS } from "../../pipeline/warehouse/raw-tables.ts";

const HASH = "ab".repeat(32);

describe("Snowflake DDL for the raw layer", () => {
  it("creates the six tables with DuckDB's column names, upper-cased, and Snowflake types; drops the lineage columns raw tables carried before raw_loads held it", () => {
    expect(rawSchemaDdl()).toEqual([
      'CREATE TABLE IF NOT EXISTS "RAW_BROWSING_EVENTS" ("SESSION_ID_HASH" VARCHAR, "EVENT_TYPE" VARCHAR, "PRODUCT_ACTION" VARCHAR, "PRODUCT_SKU_HASH" VARCHAR, "SERVER_TIMESTAMP_EPOCH_MS" NUMBER(38,0), "HASHED_URL" VARCHAR, "SOURCE_LINE" NUMBER(38,0), "ETL_ID" VARCHAR)',
      'ALTER TABLE "RAW_BROWSING_EVENTS" DROP COLUMN IF EXISTS "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH"',
      'CREATE TABLE IF NOT EXISTS "RAW_SEARCH_EVENTS" ("SESSION_ID_HASH" VARCHAR, "SERVER_TIMESTAMP_EPOCH_MS" NUMBER(38,0), "QUERY_VECTOR" VARCHAR, "PRODUCT_SKUS_HASH" VARCHAR, "CLICKED_SKUS_HASH" VARCHAR, "SOURCE_LINE" NUMBER(38,0), "ETL_ID" VARCHAR)',
      'ALTER TABLE "RAW_SEARCH_EVENTS" DROP COLUMN IF EXISTS "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH"',
      'CREATE TABLE IF NOT EXISTS "RAW_SKU_CONTENT" ("PRODUCT_SKU_HASH" VARCHAR, "DESCRIPTION_VECTOR" VARCHAR, "CATEGORY_HASH" VARCHAR, "IMAGE_VECTOR" VARCHAR, "PRICE_BUCKET" FLOAT, "SOURCE_LINE" NUMBER(38,0), "ETL_ID" VARCHAR)',
      'ALTER TABLE "RAW_SKU_CONTENT" DROP COLUMN IF EXISTS "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH"',
      'CREATE TABLE IF NOT EXISTS "RAW_SERVED_EVENTS" ("SESSION_ID_HASH" VARCHAR, "PRODUCT_SKU_HASH" VARCHAR, "SERVER_TIMESTAMP_EPOCH_MS" NUMBER(38,0), "MODEL_RUN_ID" VARCHAR, "SOURCE_LINE" NUMBER(38,0), "ETL_ID" VARCHAR)',
      'ALTER TABLE "RAW_SERVED_EVENTS" DROP COLUMN IF EXISTS "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH"',
      'CREATE TABLE IF NOT EXISTS "RAW_REJECTS" ("LINE" NUMBER(38,0), "COLUMN_INDEX" NUMBER(38,0), "COLUMN_NAME" VARCHAR, "REASON" VARCHAR, "RAW_TEXT" VARCHAR, "TARGET_TABLE" VARCHAR, "ETL_ID" VARCHAR, "ETL_TIMESTAMP" TIMESTAMP_NTZ, "TENANT" VARCHAR, "SOURCE_FILE" VARCHAR, "SOURCE_HASH" VARCHAR)',
      'CREATE TABLE IF NOT EXISTS "RAW_LOADS" ("TARGET_TABLE" VARCHAR, "ETL_ID" VARCHAR, "ETL_TIMESTAMP" TIMESTAMP_NTZ, "TENANT" VARCHAR, "SOURCE_FILE" VARCHAR, "SOURCE_HASH" VARCHAR, "ROWS_READ" NUMBER(38,0), "ROWS_LOADED" NUMBER(38,0), "ROWS_REJECTED" NUMBER(38,0))',
    ]);
  });

  it("refuses identifiers that would need quoting or could carry SQL", () => {
    expect(() => createTableSql('t"; DROP TABLE x; --', [{ name: "a", type: "varchar" }])).toThrow(
      /invalid table name/,
    );
    expect(() => createTableSql("t", [{ name: "a b", type: "varchar" }])).toThrow(
      /invalid column name/,
    );
    expect(() => countSql("raw_loads; drop table raw_loads")).toThrow(/invalid table name/);
    expect(() => sfIdentifier("x".repeat(256))).toThrow(/at most 255/);
    expect(sfIdentifier("order")).toBe('"ORDER"');
    expect(countSql("raw_loads")).toBe('SELECT COUNT(*) AS "n" FROM "RAW_LOADS"');
  });
});

describe("load statements", () => {
  it("names staged chunks by content, never by etl id", () => {
    expect(stagedFileName("browsing", "rows", HASH, 3, "0123456789abcdef0123")).toBe(
      `browsing-rows-${HASH}-3-0123456789abcdef.csv`,
    );
    expect(() => stagedFileName("browsing", "rows", "run-1:browsing", 0, "00".repeat(8))).toThrow();
  });

  it("PUTs into the table stage without overwriting, compressing on the client", () => {
    expect(putSql("/tmp/x y/browsing-rows.csv", "raw_browsing_events")).toBe(
      "PUT 'file:///tmp/x y/browsing-rows.csv' @%RAW_BROWSING_EVENTS OVERWRITE = FALSE AUTO_COMPRESS = TRUE",
    );
    expect(() => putSql("/tmp/it's.csv", "raw_browsing_events")).toThrow(/quote/);
    expect(() => putSql("/tmp/*.csv", "raw_browsing_events")).toThrow(/wildcard/);
  });

  it("COPYs the named files with the load metadata as escaped literals", () => {
    const sql = copyIntoSql({
      table: "raw_rejects",
      columns: REJECTS_TABLE_COLUMNS,
      fileColumns: REJECT_COLUMNS.length,
      constants: {
        etl_id: "run-1:browsing",
        etl_timestamp: "2024-05-01 10:00:00.000",
        tenant: "acme",
        source_file: "it's \\ odd.csv",
        source_hash: HASH,
        target_table: "raw_browsing_events",
      },
      stagedFiles: ["a.csv.gz", "b.csv.gz"],
    });
    expect(sql).toBe(
      'COPY INTO "RAW_REJECTS" ("LINE", "COLUMN_INDEX", "COLUMN_NAME", "REASON", "RAW_TEXT", "TARGET_TABLE", "ETL_ID", "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH") ' +
        `FROM (SELECT $1, $2, $3, $4, $5, 'raw_browsing_events', 'run-1:browsing', '2024-05-01 10:00:00.000'::TIMESTAMP_NTZ, 'acme', 'it''s \\\\ odd.csv', '${HASH}' FROM @%RAW_REJECTS) ` +
        "FILES = ('a.csv.gz', 'b.csv.gz') " +
        "FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' SKIP_HEADER = 0 FIELD_OPTIONALLY_ENCLOSED_BY = '\"' ESCAPE = NONE ESCAPE_UNENCLOSED_FIELD = NONE EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () TRIM_SPACE = FALSE COMPRESSION = GZIP ENCODING = 'UTF8') " +
        "ON_ERROR = ABORT_STATEMENT",
    );
    expect(() =>
      copyIntoSql({
        table: "raw_rejects",
        columns: REJECTS_TABLE_COLUMNS,
        fileColumns: 5,
        constants: {},
        stagedFiles: ["a.gz"],
      }),
    ).toThrow(/no value for raw_rejects.target_table/);
    expect(() =>
      copyIntoSql({
        table: "raw_rejects",
        columns: REJECT_COLUMNS,
        fileColumns: 5,
        constants: {},
        stagedFiles: ["a.gz') --"],
      }),
    ).toThrow(/invalid staged file name/);
  });

  it("reads and writes raw_loads through binds", () => {
    expect(findLoadSql()).toBe(
      'SELECT "TARGET_TABLE" AS "target_table", "ETL_ID" AS "etl_id", TO_VARCHAR("ETL_TIMESTAMP", \'YYYY-MM-DD"T"HH24:MI:SS.FF3"Z"\') AS "etl_timestamp", "TENANT" AS "tenant", "SOURCE_FILE" AS "source_file", "SOURCE_HASH" AS "source_hash", "ROWS_READ" AS "rows_read", "ROWS_LOADED" AS "rows_loaded", "ROWS_REJECTED" AS "rows_rejected" FROM "RAW_LOADS" WHERE "TARGET_TABLE" = ? AND "SOURCE_HASH" = ? ORDER BY "ETL_TIMESTAMP" LIMIT 1',
    );
    expect(insertLoadSql()).toBe(
      'INSERT INTO "RAW_LOADS" ("TARGET_TABLE", "ETL_ID", "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH", "ROWS_READ", "ROWS_LOADED", "ROWS_REJECTED") SELECT ?, ?, TO_TIMESTAMP_NTZ(?), ?, ?, ?, ?, ?, ?',
    );
  });

  it("escapes string literals and refuses control characters", () => {
    expect(sqlString("a'b")).toBe("'a''b'");
    expect(sqlString("a\\'b")).toBe("'a\\\\''b'");
    expect(() => sqlString("a\nb", "tenant")).toThrow(/tenant contains a control character/);
  });

  it("writes the load timestamp in a form every TIMESTAMP_INPUT_FORMAT reads alike", () => {
    expect(snowflakeTimestamp("2024-05-01T10:00:00.123Z")).toBe("2024-05-01 10:00:00.123");
    expect(snowflakeTimestamp("2024-05-01T12:00:00+02:00")).toBe("2024-05-01 10:00:00.000");
    expect(() => snowflakeTimestamp("yesterday")).toThrow(/not a date/);
  });

  it("checks the load metadata before it reaches SQL", () => {
    const meta = {
      etlId: "r:browsing",
      etlTimestamp: "2024-05-01T10:00:00Z",
      tenant: "t",
      sourceFile: "f.csv",
      sourceHash: HASH,
    };
    expect(() => validateLoadMeta(meta)).not.toThrow();
    expect(() => validateLoadMeta({ ...meta, sourceHash: "abc" })).toThrow(/sha256/);
    expect(() => validateLoadMeta({ ...meta, sourceFile: "f\r.csv" })).toThrow(/control character/);
  });
});

describe("placeholders", () => {
  it("rewrites DuckDB's $n to Snowflake's :n outside literals, identifiers and comments", () => {
    expect(toSnowflakePlaceholders("SELECT * FROM t WHERE a = $1 AND b = $12")).toBe(
      "SELECT * FROM t WHERE a = :1 AND b = :12",
    );
    expect(toSnowflakePlaceholders("SELECT '$1', \"$2\", x$3, $$ $4 $$ -- $5\n, $6 /* $7 */")).toBe(
      "SELECT '$1', \"$2\", x$3, $$ $4 $$ -- $5\n, :6 /* $7 */",
    );
    expect(toSnowflakePlaceholders("SELECT 'it''s $1', $2")).toBe("SELECT 'it''s $1', :2");
    expect(toSnowflakePlaceholders("SELECT 'a\\'$1', $2")).toBe("SELECT 'a\\'$1', :2");
  });
});

describe("error classification", () => {
  const sdkError = (fields: Record<string, unknown>) =>
    Object.assign(new Error(String(fields.message ?? "x")), fields);
  it.each([
    [
      "network",
      sdkError({ name: "NetworkError", code: 401001, cause: { code: "ECONNRESET" } }),
      "transient",
    ],
    [
      "unknown host",
      sdkError({ name: "NetworkError", code: 401001, cause: { code: "ENOTFOUND" } }),
      "config",
    ],
    [
      "HTTP 503",
      sdkError({ name: "RequestFailedError", code: 401002, response: { statusCode: 503 } }),
      "transient",
    ],
    [
      "HTTP 429",
      sdkError({ name: "RequestFailedError", code: 401002, response: { statusCode: 429 } }),
      "transient",
    ],
    [
      "HTTP 400",
      sdkError({ name: "RequestFailedError", code: 401002, response: { statusCode: 400 } }),
      "other",
    ],
    [
      "HTTP 403",
      sdkError({ name: "RequestFailedError", code: 401002, response: { statusCode: 403 } }),
      "auth",
    ],
    ["socket", sdkError({ code: "ETIMEDOUT" }), "transient"],
    ["wrong password", sdkError({ code: "390100", sqlState: "08004" }), "auth"],
    ["bad JWT", sdkError({ code: "390144", sqlState: "08001" }), "auth"],
    ["bad passphrase", sdkError({ code: "ERR_OSSL_BAD_DECRYPT" }), "auth"],
    ["session expired", sdkError({ code: "390112" }), "session"],
    ["disconnected", sdkError({ code: 407002 }), "session"],
    ["compilation", sdkError({ code: "001003", sqlState: "42000" }), "sql"],
    ["missing object", sdkError({ code: "002003", sqlState: "42S02" }), "sql"],
    ["bad option", sdkError({ code: 404026 }), "config"],
    ["anything else", new Error("boom"), "other"],
  ])("%s → %s", (_label, error, kind) => {
    expect(classifySnowflakeError(error)).toBe(kind);
  });
});
