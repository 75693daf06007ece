/**
 * DuckDB's reading of a CSV file into raw-table columns, shared by the staged chunks the reader
 * writes (headerless) and the bulk path's data file as it is on disk (header, maybe gzip): one
 * dialect, empty fields as NULL, the raw tables' types.
 */
import type { ColumnDef, ColumnType } from "./raw-tables.ts";

export const DUCKDB_TYPES: Record<ColumnType, string> = {
  varchar: "VARCHAR",
  bigint: "BIGINT",
  double: "DOUBLE",
  timestamp: "TIMESTAMP",
  integer: "INTEGER",
};

export function csvScan(
  path: string,
  columns: readonly ColumnDef[],
  file: { header?: boolean; gzip?: boolean } = {},
): string {
  const spec = columns.map((c) => `'${c.name}': '${DUCKDB_TYPES[c.type]}'`).join(", ");
  const compression =
    file.gzip === undefined ? "" : `, compression = '${file.gzip ? "gzip" : "none"}'`;
  return `read_csv('${path.replaceAll("'", "''")}', header = ${file.header ?? false}, auto_detect = false, delim = ',', quote = '"', escape = '"', nullstr = ''${compression}, columns = {${spec}})`;
}
