/**
 * Transform benchmark: wall time of the transform (the built-in runner building the whole dbt
 * project, tests included) against the upload time of the same data into the same DuckDB file,
 * at each size. Prints both, their ratio, and the transform's time per million raw rows, which
 * stays flat when the transform scales linearly; the peak RSS of the process at each size; and,
 * from the largest size, both stages projected to the data challenge's full browsing file
 * (36M rows) by their time per row. Asserts nothing.
 *
 *   npx tsx bench/transform.ts [--sessions 100000,1000000]   (700000 sessions ≈ 5.2M rows)
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../pipeline/config/config.ts";
import { generate } from "../pipeline/data/generator/index.ts";
import { DATA_FILES } from "../pipeline/data/schema.ts";
import { silentReporter } from "../pipeline/reporter.ts";
import { runBuiltin } from "../pipeline/transform/builtin/builtin.ts";
import { DEFAULT_PROJECT_DIR } from "../pipeline/transform/transform.ts";
import { upload } from "../pipeline/upload/upload.ts";
import { DuckDbWarehouse } from "../pipeline/warehouse/duckdb.ts";

const { values } = parseArgs({
  options: { sessions: { type: "string", default: "100000,1000000" } },
});
const sizes = (values.sessions ?? "").split(",").map(Number);

interface Row {
  sessions: number;
  rawRows: number;
  upload: number;
  transform: number;
  sequences: number;
  /** Peak resident memory of this process so far, MB (sampled). */
  peakMb: number;
}

/** The data challenge's browsing_train.csv holds about 36M events. */
const CHALLENGE_ROWS = 36_000_000;

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

const rows: Row[] = [];
for (const sessions of sizes) {
  const dir = join(".mlops", "bench", `transform-n${sessions}`);
  if (!existsSync(join(dir, DATA_FILES.browsing.file))) {
    console.log(`generating ${sessions} sessions into ${dir} …`);
    await generate({ outDir: dir, sessions, skus: 10_000, seed: 7 });
  }
  const path = join(dir, "warehouse.duckdb");
  await rm(path, { force: true });
  await rm(`${path}.wal`, { force: true });
  const warehouse = await DuckDbWarehouse.open(path);
  const { config } = loadConfig({
    env: {},
    flags: { "data.source": "csv", "data.dir": dir, warehouse: `duckdb:${path}` },
  });
  let started = performance.now();
  const loaded = await upload({ config, warehouse, runId: "bench", reporter: silentReporter() });
  const uploadSeconds = (performance.now() - started) / 1000;

  started = performance.now();
  const built = await runBuiltin(warehouse, {
    projectDir: DEFAULT_PROJECT_DIR,
    target: "duckdb",
    vars: {},
    selectors: [],
  });
  const transformSeconds = (performance.now() - started) / 1000;
  const failed = built.runs.filter((r) => r.status !== "success" && r.status !== "pass");
  if (failed.length) console.log(`warning: ${failed.length} node(s) did not pass`);
  const sequences = Number(
    (await warehouse.query("select count(*) as n from session_sequences"))[0]?.n,
  );
  await warehouse.close();
  rows.push({
    sessions,
    rawRows: loaded.totals.loaded,
    upload: uploadSeconds,
    transform: transformSeconds,
    sequences,
    peakMb: Math.round(Math.max(peakRss, process.resourceUsage().maxRSS * 1024) / 2 ** 20),
  });
  const last = rows[rows.length - 1] as Row;
  console.log(
    `${sessions} sessions (${last.rawRows} raw rows, ${sequences} sequences): upload ${uploadSeconds.toFixed(1)} s, transform ${transformSeconds.toFixed(1)} s, transform/upload ${(transformSeconds / uploadSeconds).toFixed(2)}`,
  );
}

clearInterval(sampler);
console.log(
  "\nsessions     raw rows   upload s  transform s  transform/upload  transform s per M rows  peak RSS MB",
);
for (const r of rows) {
  console.log(
    [
      String(r.sessions).padStart(8),
      String(r.rawRows).padStart(12),
      r.upload.toFixed(1).padStart(10),
      r.transform.toFixed(1).padStart(12),
      (r.transform / r.upload).toFixed(2).padStart(17),
      ((r.transform / r.rawRows) * 1e6).toFixed(2).padStart(23),
      String(r.peakMb).padStart(12),
    ].join(" "),
  );
}
if (rows.length >= 2) {
  const [small, large] = [rows[0] as Row, rows[rows.length - 1] as Row];
  const perRow = (r: Row) => r.transform / r.rawRows;
  console.log(
    `\nscaling: ${(large.rawRows / small.rawRows).toFixed(1)}x the rows took ${(large.transform / small.transform).toFixed(1)}x the time (per-row time ratio ${(perRow(large) / perRow(small)).toFixed(2)}; 1.00 = linear)`,
  );
}

const largest = rows[rows.length - 1];
if (largest) {
  const scale = CHALLENGE_ROWS / largest.rawRows;
  console.log(
    `\nprojected to the challenge's ${CHALLENGE_ROWS / 1e6}M browsing rows (linear in rows from ${largest.rawRows}): upload ${((largest.upload * scale) / 60).toFixed(1)} min, transform ${((largest.transform * scale) / 60).toFixed(1)} min`,
  );
}
