/**
 * The upload's bulk path against a real DuckDB file: a clean browsing file is read by DuckDB
 * itself and ends up exactly as the line-by-line path loads it; anything the reader cannot vouch
 * for falls back to that path with nothing of the bulk attempt left behind.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { silentReporter } from "../../pipeline/reporter.ts";
import { loadFile } from "../../pipeline/upload/load-file.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import {
  POSITION_CHECKSUM,
  addToPositionChecksum,
} from "../../pipeline/warehouse/position-checksum.ts";
import type { Row, Warehouse } from "../../pipeline/warehouse/warehouse.ts";
import { BROWSING_HEADER, browsingRow, tempDir } from "../helpers/rows.ts";

const open: DuckDbWarehouse[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const warehouse of open.splice(0)) await warehouse.close();
});

async function warehouseAt(dir: string): Promise<DuckDbWarehouse> {
  const warehouse = await DuckDbWarehouse.open(join(dir, "wh.duckdb"));
  await warehouse.ensureRawSchema();
  open.push(warehouse);
  return warehouse;
}

/** The same warehouse without its bulk path: what the line-by-line path loads. */
function exactOnly(warehouse: DuckDbWarehouse): Warehouse {
  return new Proxy(warehouse, {
    get: (target, key) => (key === "bulk" ? undefined : Reflect.get(target, key, target)),
  });
}

function browsingLines(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    browsingRow(i % 37, i % 11, 1_550_000_000_000 + ((i * 7919) % 100_000) * 1000),
  );
}

function load(warehouse: Warehouse, path: string, etlId: string) {
  return loadFile({
    kind: "browsing",
    path,
    warehouse,
    etlId,
    tenant: "t",
    reporter: silentReporter(),
  });
}

async function rowsOf(warehouse: Warehouse, etlId: string): Promise<Row[]> {
  return warehouse.query(
    "SELECT * EXCLUDE (etl_id) FROM raw_browsing_events WHERE etl_id = $1 ORDER BY source_line",
    [etlId],
  );
}

describe("the bulk path", () => {
  it("loads a clean file exactly as the line-by-line path does, plain and gzipped", async () => {
    const dir = tempDir();
    const text = `${BROWSING_HEADER}\n${browsingLines(5000).join("\n")}\n\n\n`;
    writeFileSync(join(dir, "browsing_train.csv"), text);
    writeFileSync(join(dir, "browsing_train.csv.gz"), gzipSync(text));
    const warehouse = await warehouseAt(dir);
    const begin = vi.spyOn(warehouse.bulk, "begin");
    const staged = vi.spyOn(warehouse, "beginLoad");

    const bulk = await load(warehouse, join(dir, "browsing_train.csv"), "bulk:browsing");
    const gz = await load(warehouse, join(dir, "browsing_train.csv.gz"), "gz:browsing");
    expect(begin).toHaveBeenCalledTimes(2);
    expect(staged).not.toHaveBeenCalled();
    const exact = await load(exactOnly(warehouse), join(dir, "browsing_train.csv"), "x:browsing");
    // Same content: the exact path finds it loaded. Load it into a second warehouse instead.
    expect(exact.status).toBe("skipped");
    const other = await warehouseAt(tempDir());
    await load(exactOnly(other), join(dir, "browsing_train.csv"), "x:browsing");

    for (const result of [bulk, gz]) {
      expect(result).toMatchObject({ status: "loaded", read: 5000, loaded: 5000, rejected: 0 });
    }
    const expected = await rowsOf(other, "x:browsing");
    expect(expected).toHaveLength(5000);
    expect(expected[0]?.source_line).toBe(2);
    expect(await rowsOf(warehouse, "bulk:browsing")).toEqual(expected);
    expect(await rowsOf(warehouse, "gz:browsing")).toEqual(expected);
    const [record] = await warehouse.query(
      "SELECT rows_read, rows_loaded, rows_rejected, source_hash, tenant FROM raw_loads WHERE etl_id = 'bulk:browsing'",
    );
    expect(record).toEqual({
      rows_read: 5000,
      rows_loaded: 5000,
      rows_rejected: 0,
      source_hash: bulk.sha256,
      tenant: "t",
    });
    const [reference] = await other.query("SELECT source_hash FROM raw_loads");
    expect(bulk.sha256).toBe(reference?.source_hash);
  });

  it("takes CRLF line ends and a byte-order mark as the exact path does", async () => {
    const dir = tempDir();
    const text = `\ufeff${BROWSING_HEADER}\r\n${browsingLines(300).join("\r\n")}\r\n`;
    writeFileSync(join(dir, "browsing_train.csv"), text);
    const warehouse = await warehouseAt(dir);
    const staged = vi.spyOn(warehouse, "beginLoad");
    const bulk = await load(warehouse, join(dir, "browsing_train.csv"), "bulk:browsing");
    expect(staged).not.toHaveBeenCalled();
    const other = await warehouseAt(tempDir());
    const exact = await load(exactOnly(other), join(dir, "browsing_train.csv"), "x:browsing");
    expect(bulk).toMatchObject({ loaded: 300, rejected: 0, sha256: exact.sha256 });
    expect(await rowsOf(warehouse, "bulk:browsing")).toEqual(await rowsOf(other, "x:browsing"));
  });

  it.each([
    ["a reject in the middle", (lines: string[]) => lines.splice(2500, 0, "not,a,row")],
    ["a blank line in the middle", (lines: string[]) => lines.splice(2500, 0, "")],
    ["a quoted field", (lines: string[]) => lines.splice(10, 1, `"${lines[10] ?? ""}"`)],
  ])("falls back to the exact path on %s, leaving nothing of the bulk attempt", async (_, edit) => {
    const dir = tempDir();
    const lines = browsingLines(5000);
    edit(lines);
    writeFileSync(join(dir, "browsing_train.csv"), `${BROWSING_HEADER}\n${lines.join("\n")}\n`);
    const warehouse = await warehouseAt(dir);
    const begin = vi.spyOn(warehouse.bulk, "begin");
    const result = await load(warehouse, join(dir, "browsing_train.csv"), "run:browsing");
    expect(begin).toHaveBeenCalledTimes(1);

    const other = await warehouseAt(tempDir());
    const exact = await load(exactOnly(other), join(dir, "browsing_train.csv"), "run:browsing");
    expect(result).toMatchObject({
      status: "loaded",
      read: exact.read,
      loaded: exact.loaded,
      rejected: exact.rejected,
      rejectReasons: exact.rejectReasons,
    });
    expect(await warehouse.count("raw_browsing_events")).toBe(exact.loaded);
    expect(await rowsOf(warehouse, "run:browsing")).toEqual(await rowsOf(other, "run:browsing"));
    const rejects = await warehouse.query("SELECT line FROM raw_rejects ORDER BY line");
    expect(rejects).toEqual(await other.query("SELECT line FROM raw_rejects ORDER BY line"));
  });

  it("falls back on a header in another order, and on a file with no rows", async () => {
    const dir = tempDir();
    const columns = BROWSING_HEADER.split(",");
    const reordered = [columns[1], columns[0], ...columns.slice(2)].join(",");
    const lines = browsingLines(20).map((line) => {
      const f = line.split(",");
      return [f[1], f[0], ...f.slice(2)].join(",");
    });
    writeFileSync(join(dir, "browsing_train.csv"), `${reordered}\n${lines.join("\n")}\n`);
    writeFileSync(join(dir, "empty.csv"), `${BROWSING_HEADER}\n`);
    const warehouse = await warehouseAt(dir);
    const staged = vi.spyOn(warehouse, "beginLoad");
    const result = await load(warehouse, join(dir, "browsing_train.csv"), "a:browsing");
    const empty = await load(warehouse, join(dir, "empty.csv"), "b:browsing");
    expect(staged).toHaveBeenCalledTimes(2);
    expect(result).toMatchObject({ loaded: 20, rejected: 0 });
    expect(empty).toMatchObject({ read: 0, loaded: 0 });
    expect(empty.warnings).toEqual([expect.stringMatching(/header but no rows/)]);
  });

  it("loads the same content once, under its name or another", async () => {
    const dir = tempDir();
    const text = `${BROWSING_HEADER}\n${browsingLines(300).join("\n")}\n`;
    writeFileSync(join(dir, "browsing_train.csv"), text);
    writeFileSync(join(dir, "copy.csv"), text);
    const warehouse = await warehouseAt(dir);
    const begin = vi.spyOn(warehouse.bulk, "begin");
    expect(await load(warehouse, join(dir, "browsing_train.csv"), "1:browsing")).toMatchObject({
      status: "loaded",
    });
    // Same name: hashed first, found, no second read.
    const again = await load(warehouse, join(dir, "browsing_train.csv"), "2:browsing");
    expect(again).toMatchObject({ status: "skipped", skipped: 300, etlId: "1:browsing" });
    expect(begin).toHaveBeenCalledTimes(1);
    // Another name: read and inserted, then found loaded at commit and rolled back.
    const copy = await load(warehouse, join(dir, "copy.csv"), "3:browsing");
    expect(copy).toMatchObject({ status: "skipped", etlId: "1:browsing" });
    expect(await warehouse.count("raw_browsing_events")).toBe(300);
    expect(await warehouse.count("raw_loads")).toBe(1);
  });

  it("refuses a second file under a load id that already loaded one", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.csv"), `${BROWSING_HEADER}\n${browsingLines(10).join("\n")}\n`);
    writeFileSync(join(dir, "b.csv"), `${BROWSING_HEADER}\n${browsingLines(12).join("\n")}\n`);
    const warehouse = await warehouseAt(dir);
    await load(warehouse, join(dir, "a.csv"), "run:browsing");
    await expect(load(warehouse, join(dir, "b.csv"), "run:browsing")).rejects.toThrow(
      /run:browsing already loaded a\.csv; one run loads one file per table: start a new run/,
    );
    await expect(load(exactOnly(warehouse), join(dir, "b.csv"), "run:browsing")).rejects.toThrow(
      /already loaded a\.csv/,
    );
    expect(await warehouse.count("raw_browsing_events")).toBe(10);
  });
});

describe("the raw tables' lineage", () => {
  it("moves to raw_loads: a warehouse created with lineage on every row has those columns dropped, rows kept", async () => {
    const dir = tempDir();
    const warehouse = await DuckDbWarehouse.open(join(dir, "old.duckdb"));
    open.push(warehouse);
    await warehouse.query(
      "CREATE TABLE raw_browsing_events (session_id_hash VARCHAR, event_type VARCHAR, product_action VARCHAR, product_sku_hash VARCHAR, server_timestamp_epoch_ms BIGINT, hashed_url VARCHAR, source_line BIGINT, etl_id VARCHAR, etl_timestamp TIMESTAMP, tenant VARCHAR, source_file VARCHAR, source_hash VARCHAR)",
    );
    await warehouse.query(
      "INSERT INTO raw_browsing_events VALUES ('s', 'pageview', NULL, NULL, 1550000000000, 'u', 2, 'old:browsing', '2024-01-01', 't', 'f.csv', 'h')",
    );
    await warehouse.ensureRawSchema();
    const columns = await warehouse.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'raw_browsing_events' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.column_name)).toEqual([
      "session_id_hash",
      "event_type",
      "product_action",
      "product_sku_hash",
      "server_timestamp_epoch_ms",
      "hashed_url",
      "source_line",
      "etl_id",
    ]);
    expect(await warehouse.count("raw_browsing_events")).toBe(1);
  });
});

describe("the position checksum", () => {
  it("changes when two lines of different timestamps swap places, or a line is counted twice", () => {
    const lines = [1_550_000_000_000, 1_550_000_001_000, 1_550_000_007_000];
    const sum = (order: number[]) =>
      order.reduce((acc, ts, i) => addToPositionChecksum(acc, i + 2, ts), 0);
    const base = sum(lines);
    expect(sum([lines[1], lines[0], lines[2]] as number[])).not.toBe(base);
    expect(sum([...lines, lines[2]] as number[])).not.toBe(base);
    expect(base).toBeLessThan(POSITION_CHECKSUM.modulus);
  });

  it("stays exact at the largest line and timestamp it accepts", () => {
    const line = 2 ** 31 - 2;
    const weight = POSITION_CHECKSUM.timestampModulus - 1;
    expect(addToPositionChecksum(POSITION_CHECKSUM.modulus - 1, line, weight)).toBe(
      Number((BigInt(POSITION_CHECKSUM.modulus - 1) + BigInt(line) * BigInt(weight)) % 2147483647n),
    );
  });
});
