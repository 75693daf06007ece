/**
 * The data challenge's files as published (test/fixtures/challenge-layout, rows of our own): the
 * search file's columns in their real order, a trailing empty line, `7.0` price buckets, Python
 * lists, empty lists and vectors. They load with 0 rejects, plain and gzipped, and build the
 * marts; columns are matched by name, a missing one stops the load naming it.
 */
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { loadFile } from "../../pipeline/upload/load-file.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { buildWith, statuses, uploadInto } from "../helpers/transform.ts";
import { tempDir } from "../helpers/rows.ts";

const FIXTURE = join(import.meta.dirname, "../fixtures/challenge-layout");
const FILES = ["browsing_train.csv", "search_train.csv", "sku_to_content.csv"];
/** Rows in each fixture file (the header and the trailing empty line are not rows). */
const ROWS = { browsing: 164, search: 12, catalog: 40 };

describe.each([
  ["plain", (dir: string) => FILES.forEach((f) => copyFileSync(join(FIXTURE, f), join(dir, f)))],
  [
    "gzipped",
    (dir: string) =>
      FILES.forEach((f) =>
        writeFileSync(join(dir, `${f}.gz`), gzipSync(readFileSync(join(FIXTURE, f)))),
      ),
  ],
])("the challenge's layout, %s", (_name, place) => {
  let warehouse: DuckDbWarehouse;
  const dir = tempDir("challenge-layout-");
  beforeAll(async () => {
    place(dir);
    warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
  });
  afterAll(() => warehouse.close());

  it("loads every row, rejects none, and builds the marts", async () => {
    const result = await uploadInto(warehouse, dir, "challenge");
    const byKind = Object.fromEntries(result.files.map((f) => [f.kind, f]));
    for (const [kind, rows] of Object.entries(ROWS)) {
      expect(byKind[kind], kind).toMatchObject({ read: rows, loaded: rows, rejected: 0 });
    }
    expect(result.reconciled).toBe(true);
    expect(result.files.flatMap((f) => f.warnings)).toEqual([]);
    const outcome = await buildWith(warehouse);
    const failed = Object.entries(statuses(outcome)).filter(
      ([, status]) => !["success", "pass"].includes(status),
    );
    expect(failed).toEqual([]);
    const sessions = await warehouse.query("select count(*) as n from session_sequences");
    expect(Number(sessions[0]?.n)).toBeGreaterThan(0);
    const catalog = await warehouse.query(
      "select count(*) as n from raw_sku_content where price_bucket = 7",
    );
    expect(Number(catalog[0]?.n)).toBe(
      readFileSync(join(FIXTURE, "sku_to_content.csv"), "utf8")
        .split("\n")
        .filter((l) => l.endsWith(",7.0")).length,
    );
  });
});

describe("columns by name", () => {
  let warehouse: DuckDbWarehouse;
  const dir = tempDir("columns-by-name-");
  beforeAll(async () => {
    warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
    await warehouse.ensureRawSchema();
  });
  afterAll(() => warehouse.close());
  const load = (name: string, text: string, kind: "browsing" | "search" = "browsing") => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return loadFile({
      kind,
      path,
      warehouse,
      etlId: name,
      tenant: "t",
      reporter: silentReporter(),
    });
  };
  const fixture = readFileSync(join(FIXTURE, "browsing_train.csv"), "utf8").trimEnd().split("\n");
  const header = (fixture[0] as string).split(",");
  /** The fixture's rows with their columns moved as `order` says, plus extra columns. */
  const reordered = (order: number[], extra: string[] = []) =>
    fixture.map((line, i) => {
      const fields = line.split(",");
      return [...order.map((c) => fields[c]), ...extra.map((e) => (i === 0 ? e : "x"))].join(",");
    });

  it("takes the columns in any order, with extra columns ignored after one warning", async () => {
    await load("standard.csv", `${fixture.join("\n")}\n`);
    const lines = reordered([5, 4, 3, 2, 1, 0], ["note"]);
    const result = await load("reordered.csv", `${lines.join("\n")}\n`);
    expect(result).toMatchObject({ read: ROWS.browsing, loaded: ROWS.browsing, rejected: 0 });
    expect(result.warnings).toEqual([
      `${join(dir, "reordered.csv")}: column(s) note not used by raw_browsing_events (ignored)`,
    ]);
    // The same rows as the standard layout, value for value.
    const rows = await warehouse.query(
      "select count(*) as n from (select session_id_hash, event_type, product_action, product_sku_hash, server_timestamp_epoch_ms, hashed_url from raw_browsing_events where etl_id = 'reordered.csv' except select session_id_hash, event_type, product_action, product_sku_hash, server_timestamp_epoch_ms, hashed_url from raw_browsing_events where etl_id = 'standard.csv')",
    );
    expect(Number(rows[0]?.n)).toBe(0);
  });

  it("names a bad value's column where it is in the file", async () => {
    const lines = reordered([5, 4, 3, 2, 1, 0]);
    lines[3] = (lines[3] as string).replace(/,(\d{13}),/, ",12,");
    const result = await load("bad-value.csv", `${lines.join("\n")}\n`);
    expect(result.rejected).toBe(1);
    const rejects = await warehouse.query(
      "select line, column_index, column_name from raw_rejects where etl_id = 'bad-value.csv'",
    );
    expect(rejects).toEqual([
      { line: 4, column_index: 2, column_name: "server_timestamp_epoch_ms" },
    ]);
  });

  it("stops with exit code 2 naming a missing column and the file", async () => {
    const lines = fixture.map((line) =>
      line
        .split(",")
        .filter((_, c) => c !== 4)
        .join(","),
    );
    const error = await load("missing.csv", `${lines.join("\n")}\n`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).exitCode).toBe(2);
    expect((error as InputError).message).toContain(
      `${join(dir, "missing.csv")}, line 1: the header has no column "server_timestamp_epoch_ms"`,
    );
    expect(header).toContain("server_timestamp_epoch_ms");
  });

  it("does not count empty lines at the end, and rejects one in the middle at its line", async () => {
    const lines = [...fixture.slice(0, 4), "", ...fixture.slice(4)];
    const result = await load("blank.csv", `${lines.join("\n")}\n\n\n`);
    expect(result).toMatchObject({ read: ROWS.browsing + 1, loaded: ROWS.browsing, rejected: 1 });
    const rejects = await warehouse.query(
      "select line, reason from raw_rejects where etl_id = 'blank.csv'",
    );
    expect(rejects).toEqual([{ line: 5, reason: "blank line" }]);
  });
});
