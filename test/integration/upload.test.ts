/**
 * The upload stage against a real DuckDB file: idempotent loads, appends, reconciliation, and a
 * process killed with SIGKILL in the middle of its load transaction.
 */
import { createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { upload } from "../../pipeline/upload/upload.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import {
  BROWSING_HEADER,
  CATALOG_HEADER,
  SEARCH_HEADER,
  browsingRow,
  hex,
  tempDir,
} from "../helpers/rows.ts";
import { json, runCli } from "../helpers/cli.ts";

function writeDataset(dir: string, sessions: number, options: { badEvery?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  const rows: string[] = [BROWSING_HEADER];
  for (let s = 0; s < sessions; s++) {
    for (let e = 0; e < 3; e++) {
      const n = s * 3 + e;
      rows.push(
        options.badEvery && n % options.badEvery === 0
          ? "not,a,row"
          : browsingRow(s, (s + e) % 50, 1_550_000_000_000 + n * 1000),
      );
    }
  }
  writeFileSync(join(dir, "browsing_train.csv"), `${rows.join("\n")}\n`);
  writeFileSync(
    join(dir, "search_train.csv"),
    `${SEARCH_HEADER}\n${hex("s1")},1550000000000,"[0.5, 1.0]","['${hex("p1")}']",\n`,
  );
  const catalog = Array.from(
    { length: 50 },
    (_, i) => `${hex(`p${i}`)},,${hex("c")},,${(i % 10) + 1}.0`,
  );
  writeFileSync(join(dir, "sku_to_content.csv"), `${CATALOG_HEADER}\n${catalog.join("\n")}\n`);
}

async function uploadCsv(dataDir: string, warehousePath: string, runId: string) {
  const { config } = loadConfig({
    env: {},
    cwd: tempDir(),
    flags: { "data.source": "csv", "data.dir": dataDir, warehouse: `duckdb:${warehousePath}` },
  });
  const warehouse = await DuckDbWarehouse.open(warehousePath);
  try {
    return await upload({ config, warehouse, runId, reporter: silentReporter() });
  } finally {
    await warehouse.close();
  }
}

describe("upload into DuckDB", () => {
  it("loads, reconciles, and loads nothing the second time", async () => {
    const dir = tempDir();
    writeDataset(join(dir, "data"), 200, { badEvery: 97 });
    const wh = join(dir, "wh.duckdb");

    const first = await uploadCsv(join(dir, "data"), wh, "run-1");
    expect(first.reconciled).toBe(true);
    const browsing = first.files.find((f) => f.kind === "browsing");
    expect(browsing).toMatchObject({
      status: "loaded",
      read: 600,
      loaded: 593,
      rejected: 7,
      skipped: 0,
    });
    expect(first.totals).toEqual({ read: 651, loaded: 644, rejected: 7, skipped: 0 });
    expect(first.tables).toEqual({
      raw_browsing_events: 593,
      raw_search_events: 1,
      raw_sku_content: 50,
      raw_served_events: 0,
    });

    const second = await uploadCsv(join(dir, "data"), wh, "run-2");
    expect(second.files.map((f) => f.status)).toEqual(["skipped", "skipped", "skipped"]);
    expect(second.totals).toEqual({ read: 651, loaded: 0, rejected: 0, skipped: 651 });
    expect(second.reconciled).toBe(true);
    expect(second.tables).toEqual(first.tables);
    // The skipped file names the load that already holds it.
    expect(second.files[0]?.etlId).toBe("run-1:browsing");
  });

  it("recognizes the same content under another name and appends new content", async () => {
    const dir = tempDir();
    writeDataset(join(dir, "a"), 100);
    writeDataset(join(dir, "b"), 100);
    writeDataset(join(dir, "c"), 150);
    const wh = join(dir, "wh.duckdb");
    await uploadCsv(join(dir, "a"), wh, "run-a");
    const same = await uploadCsv(join(dir, "b"), wh, "run-b");
    expect(same.totals.loaded).toBe(0);
    const more = await uploadCsv(join(dir, "c"), wh, "run-c");
    expect(more.files.find((f) => f.kind === "browsing")?.loaded).toBe(450);
    expect(more.tables.raw_browsing_events).toBe(300 + 450);

    const warehouse = await DuckDbWarehouse.open(wh);
    const meta = await warehouse.query(
      // Each raw row names its load; the load's lineage is in raw_loads.
      "SELECT etl_id, tenant, source_file, count(*) AS n, min(source_line) AS first, max(source_line) AS last FROM raw_browsing_events JOIN raw_loads USING (etl_id) GROUP BY ALL ORDER BY etl_id",
    );
    await warehouse.close();
    expect(meta).toEqual([
      {
        etl_id: "run-a:browsing",
        tenant: "local",
        source_file: "browsing_train.csv",
        n: 300,
        first: 2,
        last: 301,
      },
      {
        etl_id: "run-c:browsing",
        tenant: "local",
        source_file: "browsing_train.csv",
        n: 450,
        first: 2,
        last: 451,
      },
    ]);
  });
});

describe("a crash in the middle of a load", () => {
  it.each([
    // A clean file goes the bulk path; a reject on line 2 sends it through staged chunks.
    ["the bulk path", "", "with the warehouse's own reader"],
    ["staged chunks", "not,a,row\n", "as they are validated"],
  ])(
    "%s: leaves no partial load visible, and a re-run completes with identical counts",
    async (_, bad, cue) => {
      const dir = tempDir();
      const data = join(dir, "data");
      mkdirSync(data);
      // Big enough that the insert takes a while after the "inserting" line.
      const out = createWriteStream(join(data, "browsing_train.csv"));
      out.write(`${BROWSING_HEADER}\n${bad}`);
      let chunk = "";
      for (let n = 0; n < 400_000; n++) {
        chunk += `${browsingRow(n >> 3, n % 997, 1_550_000_000_000 + n)}\n`;
        if (chunk.length > 1 << 20) {
          if (!out.write(chunk)) await once(out, "drain");
          chunk = "";
        }
      }
      out.end(chunk);
      await once(out, "finish");

      const args = (wh: string) => [
        "upload",
        "--source",
        "csv",
        "--data",
        data,
        "--warehouse",
        `duckdb:${wh}`,
        "--store",
        join(dir, "store"),
      ];
      const crashed = join(dir, "crashed.duckdb");
      const killed = await runCli(args(crashed), {
        onStderr: (text, kill) => {
          if (text.includes(cue)) kill();
        },
      });
      expect(killed.signal).toBe("SIGKILL");

      let warehouse = await DuckDbWarehouse.open(crashed);
      expect(await warehouse.count("raw_browsing_events")).toBe(0);
      expect(await warehouse.count("raw_loads")).toBe(0);
      await warehouse.close();

      const resumed = json<{ totals: { read: number; loaded: number } }>(
        await runCli([...args(crashed), "--json"]),
      );
      const clean = json<{ totals: { read: number; loaded: number } }>(
        await runCli([...args(join(dir, "clean.duckdb")), "--json"]),
      );
      expect(resumed.totals).toEqual(clean.totals);
      expect(resumed.totals.loaded).toBe(400_000);
      expect(resumed.totals.read).toBe(bad ? 400_001 : 400_000);

      warehouse = await DuckDbWarehouse.open(crashed);
      expect(await warehouse.count("raw_browsing_events")).toBe(400_000);
      expect(await warehouse.count("raw_loads")).toBe(1);
      await warehouse.close();
    },
  );
});
