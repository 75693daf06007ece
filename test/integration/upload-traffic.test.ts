/**
 * Production traffic into a real DuckDB warehouse: request logs and SageMaker Data Capture files
 * found anywhere under the traffic folder, each loaded as one load of raw_served_events, bad
 * rows quarantined at their line, bad capture records reported, and a second upload skipping
 * what it loaded before.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { SERVED_HEADER } from "../../pipeline/monitor/served-events.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { loadTraffic } from "../../pipeline/upload/traffic.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { hex, tempDir } from "../helpers/rows.ts";

describe("the upload's traffic source", () => {
  it("loads request logs and capture files, quarantines bad rows, and loads each once", async () => {
    const dir = tempDir();
    const traffic = join(dir, "traffic");
    mkdirSync(join(traffic, "requests-1"), { recursive: true });
    mkdirSync(join(traffic, "capture", "2026", "12", "01"), { recursive: true });
    writeFileSync(
      join(traffic, "requests-1", "served_events.csv"),
      [
        SERVED_HEADER,
        `${hex("s1")},${hex("a")},1764547200000,run-1`,
        `${hex("s1")},not-a-sku,1764547200001,run-1`,
        `${hex("s1")},${hex("b")},1764547200002,run-1`,
        "",
      ].join("\n"),
    );
    const request = JSON.stringify({ sessions: [[hex("a"), hex("c")], [hex("d")]], k: 5 });
    const capture = {
      captureData: {
        endpointInput: {
          observedContentType: "application/json",
          mode: "INPUT",
          data: request,
          encoding: "JSON",
        },
      },
      eventMetadata: { eventId: "e-1", inferenceTime: "2026-12-01T00:00:00Z" },
      eventVersion: "0",
    };
    writeFileSync(
      join(traffic, "capture", "2026", "12", "01", "part.jsonl"),
      `${JSON.stringify(capture)}\nnot json\n`,
    );
    writeFileSync(join(traffic, "notes.txt"), "not traffic");

    const warehouse = await DuckDbWarehouse.open(join(dir, "wh.duckdb"));
    await warehouse.ensureRawSchema();
    const { config } = loadConfig({ env: {}, cwd: dir, flags: { "monitor.traffic": traffic } });
    const run = (runId: string) =>
      loadTraffic({ config, warehouse, runId, reporter: silentReporter() });
    try {
      const first = await run("t1");
      expect(
        first.map((f) => [
          f.file.slice(traffic.length + 1),
          f.status,
          f.read,
          f.loaded,
          f.rejected,
        ]),
      ).toEqual([
        ["capture/2026/12/01/part.jsonl", "loaded", 3, 3, 0],
        ["requests-1/served_events.csv", "loaded", 3, 2, 1],
      ]);
      expect(first[0]?.warnings).toEqual([
        expect.stringMatching(/part\.jsonl:2: .*\(record not loaded\)/),
      ]);
      const [reject] = await warehouse.query(
        "select line, column_name from raw_rejects where target_table = 'raw_served_events'",
      );
      expect(reject).toEqual({ line: 3, column_name: "product_sku_hash" });
      const [loads] = await warehouse.query(
        "select count(distinct etl_id) as n from raw_served_events",
      );
      expect(loads?.n).toBe(2);

      const again = await run("t2");
      expect(again.map((f) => f.status)).toEqual(["skipped", "skipped"]);
      expect(await warehouse.count("raw_served_events")).toBe(5);
    } finally {
      await warehouse.close();
    }
  });

  it("finds nothing, quietly, where no traffic folder exists", async () => {
    const dir = tempDir();
    const warehouse = await DuckDbWarehouse.open(join(dir, "wh.duckdb"));
    await warehouse.ensureRawSchema();
    const { config } = loadConfig({ env: {}, cwd: dir, flags: { store: join(dir, "store") } });
    try {
      expect(
        await loadTraffic({ config, warehouse, runId: "t", reporter: silentReporter() }),
      ).toEqual([]);
    } finally {
      await warehouse.close();
    }
  });
});
