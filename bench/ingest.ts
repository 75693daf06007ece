/**
 * Ingest benchmark: events/s of the upload stage (validate every line, quarantine rejects, load
 * in one transaction) against DuckDB's own `read_csv` of the same file into a table, measured in
 * the same run on the same machine. Prints the ratio (target ≥ 0.8); asserts nothing.
 *
 *   npx tsx bench/ingest.ts [--sessions 100000] [--repeat 3] [--dir DIR]
 *
 * --dir reads DIR/browsing_train.csv as it is (e.g. the 5.2M-row file bench/transform.ts made).
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DuckDBInstance } from "@duckdb/node-api";
import { generate } from "../pipeline/data/generator/index.ts";
import { DATA_FILES } from "../pipeline/data/schema.ts";
import { silentReporter } from "../pipeline/reporter.ts";
import { loadFile } from "../pipeline/upload/load-file.ts";
import { DuckDbWarehouse } from "../pipeline/warehouse/duckdb.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "100000" },
    repeat: { type: "string", default: "3" },
    dir: { type: "string" },
  },
});
const sessions = Number(values.sessions);
const repeat = Number(values.repeat);
const dir = values.dir ?? join(".mlops", "bench", `ingest-n${sessions}`);
if (!existsSync(join(dir, DATA_FILES.browsing.file))) {
  console.log(`generating ${sessions} sessions into ${dir} …`);
  await generate({ outDir: dir, sessions, skus: 10_000, seed: 7 });
}
const file = join(dir, DATA_FILES.browsing.file);

async function duckdbReadCsv(): Promise<{ seconds: number; rows: number }> {
  const path = join(dir, "baseline.duckdb");
  await rm(path, { force: true });
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  const started = performance.now();
  await connection.run(`CREATE TABLE events AS SELECT * FROM read_csv('${file}', header = true)`);
  const seconds = (performance.now() - started) / 1000;
  const rows = Number(
    (await connection.runAndReadAll("SELECT count(*) FROM events")).getRows()[0]?.[0],
  );
  connection.closeSync();
  instance.closeSync();
  return { seconds, rows };
}

async function uploadStage(): Promise<{ seconds: number; rows: number }> {
  const path = join(dir, "upload.duckdb");
  await rm(path, { force: true });
  const warehouse = await DuckDbWarehouse.open(path);
  await warehouse.ensureRawSchema();
  const started = performance.now();
  const result = await loadFile({
    kind: "browsing",
    path: file,
    warehouse,
    etlId: "bench",
    tenant: "bench",
    reporter: silentReporter(),
  });
  const seconds = (performance.now() - started) / 1000;
  await warehouse.close();
  return { seconds, rows: result.loaded };
}

const best = (runs: { seconds: number; rows: number }[]) =>
  runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
const baseline: { seconds: number; rows: number }[] = [];
const ours: { seconds: number; rows: number }[] = [];
// Interleaved so that machine noise hits both sides alike; best of N for each.
for (let i = 0; i < repeat; i++) {
  baseline.push(await duckdbReadCsv());
  ours.push(await uploadStage());
}
const b = best(baseline);
const o = best(ours);
const rate = (r: { seconds: number; rows: number }) => Math.round(r.rows / r.seconds);
console.log(`file: ${file} (${b.rows} events)`);
console.log(
  `duckdb read_csv → table : ${b.seconds.toFixed(3)} s, ${rate(b).toLocaleString()} events/s`,
);
console.log(
  `pipeline upload stage   : ${o.seconds.toFixed(3)} s, ${rate(o).toLocaleString()} events/s`,
);
console.log(
  `ratio (upload / read_csv events/s): ${(rate(o) / rate(b)).toFixed(2)}  (target ≥ 0.8)`,
);
