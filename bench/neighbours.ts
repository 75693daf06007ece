/**
 * Neighbourhood-scoring benchmark: V-SKNN prefixes per second over random heavy-tailed
 * sessions, through the evaluation's SKU-level SknnRecommender and through the id-level
 * SessionIndex the inference runtime calls, plus the build time of each. Prints; asserts
 * nothing (beyond the paths agreeing on every ranking).
 *
 *   npx tsx bench/neighbours.ts [--sessions 30000] [--items 9000] [--prefixes 20000]
 *                               [--seed 7] [--reps 3] [--ref GIT_REV]
 *
 * --ref also times pipeline/evaluate/sknn.ts as it was at that revision (copied to a temp
 * file), so a change to the scoring can be measured against its predecessor in one run.
 * Sessions have 2–15 items drawn from a Zipf(1) popularity; prefixes are the first 1..L-1 items
 * of further sessions from the same process. `recommend` is the top 20 of every prefix (what
 * the evaluation does); `sknn` is the index's sparse scores alone, with prefixes already ids
 * (what the runtime does before blending). Each figure is the best of --reps runs.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { EvalSession } from "../pipeline/evaluate/catalog.ts";
import { countItems } from "../pipeline/evaluate/popularity.ts";
import type { Recommender } from "../pipeline/evaluate/recommender.ts";
import { SknnRecommender } from "../pipeline/evaluate/sknn.ts";
import { SessionIndex } from "../pipeline/model/neighbours.ts";
import { cumulative, Rng } from "../pipeline/prng.ts";
import { Vocabulary } from "../pipeline/model/vocabulary.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "30000" },
    items: { type: "string", default: "9000" },
    prefixes: { type: "string", default: "20000" },
    seed: { type: "string", default: "7" },
    reps: { type: "string", default: "3" },
    ref: { type: "string" },
  },
});
const nSessions = Number(values.sessions);
const nItems = Number(values.items);
const nPrefixes = Number(values.prefixes);
const reps = Math.max(1, Number(values.reps));
const K = 20;

const rng = Rng.from(Number(values.seed), 0x5e55);
const popularity = cumulative(Array.from({ length: nItems }, (_, r) => 1 / (r + 1)));
const session = (): string[] =>
  Array.from({ length: 2 + rng.int(14) }, () => `sku-${rng.pickCumulative(popularity)}`);
const train: EvalSession[] = Array.from({ length: nSessions }, (_, i) => ({
  key: `t${i}`,
  items: session(),
}));
const prefixes = Array.from({ length: nPrefixes }, () => {
  const items = session();
  return items.slice(0, 1 + rng.int(items.length - 1));
});

/** Best wall time of `reps` runs of `fn`, in seconds, and its last result. */
function best<T>(fn: () => T): { seconds: number; result: T } {
  let seconds = Number.POSITIVE_INFINITY;
  let result = fn();
  for (let r = 0; r < reps; r++) {
    const started = performance.now();
    result = fn();
    seconds = Math.min(seconds, (performance.now() - started) / 1000);
  }
  return { seconds, result };
}

const rate = (seconds: number): string => `${Math.round(nPrefixes / seconds).toLocaleString()}/s`;
const ms = (seconds: number): string => `${(seconds * 1000).toFixed(0)} ms`;

/** The SknnRecommender of `rev`, imported from a temp copy whose imports point at this tree. */
async function sknnAt(rev: string): Promise<typeof SknnRecommender> {
  const evaluateDir = fileURLToPath(new URL("../pipeline/evaluate/", import.meta.url));
  const source = execFileSync("git", ["show", `${rev}:pipeline/evaluate/sknn.ts`], {
    cwd: evaluateDir,
    encoding: "utf8",
  }).replaceAll(
    /from "(\.\.?\/[^"]+)"/g,
    (_, specifier: string) => `from "${new URL(specifier, pathToFileURL(evaluateDir)).href}"`,
  );
  const dir = mkdtempSync(join(tmpdir(), "bench-neighbours-"));
  try {
    const file = join(dir, "sknn.ts");
    writeFileSync(file, source);
    const module = (await import(pathToFileURL(file).href)) as {
      SknnRecommender: typeof SknnRecommender;
    };
    return module.SknnRecommender;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function recommendAll(recommender: Recommender): Promise<string[][]> {
  return recommender.recommend(prefixes, K);
}

/** Times one SKU-level implementation: build, then recommend over every prefix. */
async function timeRecommender(label: string, Sknn: typeof SknnRecommender) {
  const build = best(() => new Sknn(train));
  let seconds = Number.POSITIVE_INFINITY;
  let lists = await recommendAll(build.result);
  for (let r = 0; r < reps; r++) {
    const started = performance.now();
    lists = await recommendAll(build.result);
    seconds = Math.min(seconds, (performance.now() - started) / 1000);
  }
  console.log(
    `${label.padEnd(34)} build ${ms(build.seconds).padStart(8)}   recommend top ${K}: ${rate(seconds)}`,
  );
  return lists;
}

console.log(
  `neighbours bench: ${nSessions} sessions over ${nItems} items, ${nPrefixes} prefixes ` +
    `(neighbours 100, sampleSize 500), best of ${reps}`,
);

let previous: string[][] | undefined;
if (values.ref !== undefined) {
  previous = await timeRecommender(`SknnRecommender @ ${values.ref}`, await sknnAt(values.ref));
}
const current = await timeRecommender("SknnRecommender (SessionIndex)", SknnRecommender);

// The id path as the runtime has it: a vocabulary from train, prefixes encoded once.
const vocabulary = Vocabulary.fromCounts(countItems(train));
const encodedTrain = train.map((s) => vocabulary.encode(s.items));
const encodedPrefixes = prefixes.map((p) => vocabulary.encode(p));
const build = best(() => new SessionIndex(encodedTrain, vocabulary.size));
const index = build.result;
const scored = best(() => {
  let touched = 0;
  for (const prefix of encodedPrefixes) touched += index.sknn(prefix).length;
  return touched;
});
const ranked = best(() => encodedPrefixes.map((prefix) => index.top(index.sknn(prefix), K)));
console.log(
  `${"SessionIndex (ids)".padEnd(34)} build ${ms(build.seconds).padStart(8)}   ` +
    `sknn: ${rate(scored.seconds)}   sknn + top ${K}: ${rate(ranked.seconds)}`,
);
console.log(`mean items scored per prefix: ${(scored.result / nPrefixes).toFixed(0)}`);

// Every path must rank alike: the old code, the wrapper, and the ids' own top (before the
// wrapper's skip of the last item and popularity fill, so compared on the scored part).
if (previous !== undefined) {
  const same = previous.every((list, p) => list.join() === current[p]?.join());
  console.log(`SknnRecommender @ ${values.ref} and now rank alike: ${same ? "yes" : "NO"}`);
}
const sameIds = ranked.result.every((ids, p) => {
  const last = (prefixes[p] as string[]).at(-1);
  const skus = ids.map((id) => vocabulary.sku(id) as string).filter((sku) => sku !== last);
  return skus.join() === (current[p] as string[]).slice(0, skus.length).join();
});
console.log(`SessionIndex ids and SknnRecommender rank alike: ${sameIds ? "yes" : "NO"}`);
