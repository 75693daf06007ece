/**
 * Inference benchmark of the plain-TypeScript network (pipeline/model/net-runtime.ts) at a
 * catalogue's size: random weights, vocabulary 10,000, sessions of 1–10 items. Prints; asserts
 * nothing.
 *
 *   npx tsx bench/net-runtime.ts [--requests 2000] [--batches 100] [--seed 42]
 *
 * Two figures per network: the median and p99 time of one request (`scores` of a single session
 * then `topK(20)` excluding padding, unknown and the session's items), which is the serving path;
 * and sessions per second when ranking batches of 64 the same way (evaluation's path).
 */
import { parseArgs } from "node:util";
import { netWeightSpecs, type NetConfig } from "../pipeline/model/net.ts";
import { NetRuntime } from "../pipeline/model/net-runtime.ts";
import { topK } from "../pipeline/model/top-k.ts";
import { seededFloats } from "../pipeline/prng.ts";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "2000" },
    batches: { type: "string", default: "100" },
    seed: { type: "string", default: "42" },
  },
});
const requests = Number(values.requests);
const batches = Number(values.batches);
const seed = Number(values.seed);

const VOCAB = 10_000;
const K = 20;
const BATCH = 64;

const NETS: { name: string; config: NetConfig }[] = [
  {
    name: "LSTM E=H=32, untied",
    config: {
      cell: "lstm",
      vocabSize: VOCAB,
      embeddingDim: 32,
      hiddenUnits: 32,
      layers: 1,
      tied: false,
      maxLen: 20,
    },
  },
  {
    name: "GRU E=H=64, tied",
    config: {
      cell: "gru",
      vocabSize: VOCAB,
      embeddingDim: 64,
      hiddenUnits: 64,
      layers: 1,
      tied: true,
      maxLen: 20,
    },
  },
];

function randomWeights(config: NetConfig, next: () => number): Map<string, Float32Array> {
  return new Map(
    netWeightSpecs(config).map(({ name, shape }) => {
      const size = shape.reduce((a, b) => a * b, 1);
      return [name, Float32Array.from({ length: size }, () => (next() - 0.5) * 0.2)];
    }),
  );
}

function sessions(count: number, next: () => number): number[][] {
  return Array.from({ length: count }, () =>
    Array.from({ length: 1 + Math.floor(next() * 10) }, () => 2 + Math.floor(next() * (VOCAB - 2))),
  );
}

function quantile(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

const ids = new Int32Array(K);
const best = new Float32Array(K);
const single = new Float32Array(VOCAB);
const batch = new Float32Array(BATCH * VOCAB);

/** Ranks each session: its top K, never padding, unknown or an item it already holds. */
function rank(scores: Float32Array, list: number[][]): void {
  list.forEach((session, p) => topK(scores, p * VOCAB, VOCAB, K, [0, 1, ...session], ids, best));
}

for (const { name, config } of NETS) {
  const next = seededFloats(seed);
  let started = performance.now();
  const runtime = new NetRuntime(config, randomWeights(config, next));
  const buildMs = performance.now() - started;

  const singles = sessions(requests, next);
  for (const session of singles.slice(0, 200)) rank(runtime.scores([session], single), [session]);
  const times = new Float64Array(requests);
  singles.forEach((session, i) => {
    const t = performance.now();
    rank(runtime.scores([session], single), [session]);
    times[i] = performance.now() - t;
  });
  times.sort();

  const batched = Array.from({ length: batches }, () => sessions(BATCH, next));
  started = performance.now();
  for (const list of batched) rank(runtime.scores(list, batch), list);
  const perSecond = (batches * BATCH) / ((performance.now() - started) / 1000);

  console.log(
    `${name}: one session ${quantile(times, 0.5).toFixed(3)} ms median, ${quantile(times, 0.99).toFixed(3)} ms p99;` +
      ` batches of ${BATCH}: ${Math.round(perSecond).toLocaleString("en-US")} sessions/s` +
      ` (runtime built in ${buildMs.toFixed(0)} ms)`,
  );
}
