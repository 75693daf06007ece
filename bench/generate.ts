/**
 * Generator benchmark: sessions/s, rows/s, output size and peak memory of one `generate` run.
 * The generator streams, so peak RSS should stay flat (well under 2 GB) as sessions grow.
 * Prints; asserts nothing.
 *
 *   npx tsx bench/generate.ts [--sessions 1000000] [--skus 10000] [--seed 42] [--out DIR] [--keep]
 */
import { stat, rm } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generate } from "../pipeline/data/generator/index.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "1000000" },
    skus: { type: "string", default: "10000" },
    seed: { type: "string", default: "42" },
    out: { type: "string" },
    keep: { type: "boolean", default: false },
  },
});
const sessions = Number(values.sessions);
const skus = Number(values.skus);
const seed = Number(values.seed);
const outDir = values.out ?? join(".mlops", "bench", `generate-n${sessions}`);

// RSS is sampled during the run as well, since maxRSS is not reported on every platform.
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 100);

const result = await generate({
  outDir,
  sessions,
  skus,
  seed,
  onProgress: (done) => {
    if (done % 100_000 === 0) process.stderr.write(`  ${done} sessions\n`);
  },
});
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);

let bytes = 0;
const sizes: string[] = [];
for (const [name, path] of Object.entries(result.files)) {
  const size = (await stat(path)).size;
  bytes += size;
  sizes.push(`${name} ${(size / 1e6).toFixed(1)} MB`);
}
const rows = result.counts.browsingRows + result.counts.searchRows + result.counts.catalogRows;
const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;

console.log(`generate: ${sessions} sessions, ${skus} skus, seed ${seed} -> ${result.outDir}`);
console.log(`  time           ${result.seconds.toFixed(2)} s`);
console.log(`  sessions/s     ${Math.round(sessions / result.seconds)}`);
console.log(
  `  rows/s         ${Math.round(rows / result.seconds)} (${rows} rows in the three data files)`,
);
console.log(`  output         ${mb(bytes)} (${sizes.join(", ")})`);
console.log(`  output MB/s    ${(bytes / 1e6 / result.seconds).toFixed(1)}`);
console.log(`  peak RSS       ${mb(peakRss)}`);
console.log(`  counts         ${JSON.stringify(result.counts)}`);

if (!values.keep) await rm(outDir, { recursive: true, force: true });
