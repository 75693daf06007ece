/**
 * Evaluation benchmark: seconds per 10k test sessions for each method (popularity,
 * co-occurrence, V-SKNN, oracle), with a train set of 100k sequences drawn from the synthetic
 * generator's process (the sequences dbt would build from its files), and each method's time as
 * a ratio to popularity's, measured in the same run. Prints; asserts nothing.
 *
 *   npx tsx bench/evaluate.ts [--train 100000] [--test 10000] [--skus 10000] [--seed 42]
 *                             [--bootstrap 1000] [--reps 2]
 *
 * Two figures per method: `recommend` is the raw ranking of every test prefix (top 20, batches
 * of 512); `evaluate` is evaluateAll with that method alone (ranking, metrics, slices, the
 * robustness inputs and the bootstrap), i.e. what one method adds to `pipeline evaluate`.
 * Each is the best of --reps runs.
 */
import { parseArgs } from "node:util";
import { buildWorld } from "../pipeline/data/generator/catalog.ts";
import { planSession, ProcessSampler } from "../pipeline/data/generator/process.ts";
import { Oracle } from "../pipeline/data/oracle.ts";
import { Catalog, type EvalSession } from "../pipeline/evaluate/catalog.ts";
import { CooccurrenceRecommender, countTransitions } from "../pipeline/evaluate/cooccurrence.ts";
import { evaluateAll } from "../pipeline/evaluate/evaluate.ts";
import { MAX_K } from "../pipeline/evaluate/metrics.ts";
import { OracleRecommender } from "../pipeline/evaluate/oracle-recommender.ts";
import { countItems, PopularityRecommender } from "../pipeline/evaluate/popularity.ts";
import type { Recommender } from "../pipeline/evaluate/recommender.ts";
import { SknnRecommender } from "../pipeline/evaluate/sknn.ts";

const { values } = parseArgs({
  options: {
    train: { type: "string", default: "100000" },
    test: { type: "string", default: "10000" },
    skus: { type: "string", default: "10000" },
    seed: { type: "string", default: "42" },
    bootstrap: { type: "string", default: "1000" },
    reps: { type: "string", default: "2" },
  },
});
const nTrain = Number(values.train);
const nTest = Number(values.test);
const skus = Number(values.skus);
const seed = Number(values.seed);
const bootstrapIterations = Number(values.bootstrap);
const reps = Math.max(1, Number(values.reps));

const seconds = (since: number): number => (performance.now() - since) / 1000;

// Sequences in time order, as session_sequences holds them: process-sessions of ≥ 2 items.
let started = performance.now();
const world = buildWorld(seed, skus);
const sampler = new ProcessSampler(world.model);
const sequences: EvalSession[] = [];
for (let index = 0; sequences.length < nTrain + nTest; index++) {
  planSession(sampler, seed, index).blocks.forEach((block, b) => {
    if (block.items.length < 2) return;
    sequences.push({
      key: `${index}-${b}`,
      items: block.items.map((item) => world.model.skus[item] as string),
    });
  });
}
const train = sequences.slice(0, nTrain);
const test = sequences.slice(nTrain, nTrain + nTest);
const counts = countItems(train);
const info = world.catalog;
const catalog = new Catalog(
  info.skus.map((sku, i) => ({
    sku,
    categoryPath: info.hasMetadata[i]
      ? (info.leafPath[info.itemLeaf[i] as number] as string)
      : null,
    priceBucket: info.hasMetadata[i] ? (info.priceBucket[i] as number) : null,
    trainPopularity: counts.get(sku) ?? 0,
  })),
);
const prefixes: string[][] = [];
for (const { items } of test) {
  for (let t = 1; t < items.length; t++) prefixes.push(items.slice(0, t));
}
console.log(
  `evaluate bench: ${train.length} train / ${test.length} test sequences (${prefixes.length} test prefixes), ` +
    `${skus} skus, seed ${seed}; data drawn in ${seconds(started).toFixed(1)} s`,
);

interface Method {
  name: string;
  build: () => Recommender;
}
const popularityFirst = new PopularityRecommender(counts);
const methods: Method[] = [
  { name: "popularity", build: () => new PopularityRecommender(counts) },
  {
    name: "cooccurrence",
    build: () => new CooccurrenceRecommender(countTransitions(train), popularityFirst.ranked),
  },
  { name: "sknn", build: () => new SknnRecommender(train) },
  { name: "oracle", build: () => new OracleRecommender(new Oracle(world.model)) },
];

const per10k = (s: number): number => (s * 10_000) / test.length;
const rows: { name: string; build: number; recommend: number; evaluate: number; hr20: number }[] =
  [];
for (const method of methods) {
  started = performance.now();
  const recommender = method.build();
  const build = seconds(started);
  let recommend = Number.POSITIVE_INFINITY;
  let evaluate = Number.POSITIVE_INFINITY;
  let hr20 = 0;
  for (let rep = 0; rep < reps; rep++) {
    started = performance.now();
    for (let at = 0; at < prefixes.length; at += 512) {
      await recommender.recommend(prefixes.slice(at, at + 512), MAX_K);
    }
    recommend = Math.min(recommend, seconds(started));
    started = performance.now();
    const report = await evaluateAll([recommender], test, catalog, { bootstrapIterations });
    evaluate = Math.min(evaluate, seconds(started));
    hr20 = report.recommenders[0]?.metrics["hr@20"].value ?? 0;
  }
  rows.push({
    name: method.name,
    build,
    recommend: per10k(recommend),
    evaluate: per10k(evaluate),
    hr20,
  });
}

const base = rows[0] as (typeof rows)[0];
const pad = (text: string, width: number) => text.padStart(width);
console.log(
  `\n${"method".padEnd(13)}${pad("build s", 9)}${pad("recommend s/10k", 17)}${pad("×pop", 7)}` +
    `${pad("evaluate s/10k", 16)}${pad("×pop", 7)}${pad("prefixes/s", 12)}${pad("HR@20", 8)}`,
);
for (const r of rows) {
  console.log(
    `${r.name.padEnd(13)}${pad(r.build.toFixed(2), 9)}${pad(r.recommend.toFixed(2), 17)}` +
      `${pad((r.recommend / base.recommend).toFixed(1), 7)}${pad(r.evaluate.toFixed(2), 16)}` +
      `${pad((r.evaluate / base.evaluate).toFixed(1), 7)}` +
      `${pad(Math.round((prefixes.length * (10_000 / test.length)) / r.recommend).toString(), 12)}` +
      `${pad(r.hr20.toFixed(4), 8)}`,
  );
}
