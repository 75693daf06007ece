import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { netWeightSpecs, type CellType, type NetConfig } from "../../pipeline/model/net.ts";
import { NetRuntime } from "../../pipeline/model/net-runtime.ts";
import { topK } from "../../pipeline/model/top-k.ts";
import { seededFloats } from "../../pipeline/prng.ts";
import { selectBackend } from "../../pipeline/train/backend.ts";

const V = 300;
const DIM = 16;
const MAX_LEN = 8;
const PREFIXES = 1000;
const K = 20;
const TIE = 1e-5;

beforeAll(async () => {
  await selectBackend("cpu");
});

function config(cell: CellType, layers: number, tied: boolean): NetConfig {
  return { cell, vocabSize: V, embeddingDim: DIM, hiddenUnits: DIM, layers, tied, maxLen: MAX_LEN };
}

/** Uniform in ±0.5. */
function uniform(next: () => number, size: number): Float32Array {
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) values[i] = next() - 0.5;
  return values;
}

/** Random prefixes of 1..maxLen+5 ids in [1, V): the unknown id included, padding never. */
function randomPrefixes(seed: number): number[][] {
  const next = seededFloats(seed);
  return Array.from({ length: PREFIXES }, () =>
    Array.from(
      { length: 1 + Math.floor(next() * (MAX_LEN + 5)) },
      () => 1 + Math.floor(next() * (V - 1)),
    ),
  );
}

/** The tfjs input: each prefix's last maxLen ids, left-padded with 0. */
function padded(prefixes: number[][]): tf.Tensor2D {
  const ids = new Float32Array(prefixes.length * MAX_LEN);
  prefixes.forEach((prefix, p) => {
    const kept = prefix.slice(-MAX_LEN);
    ids.set(kept, p * MAX_LEN + MAX_LEN - kept.length);
  });
  return tf.tensor2d(ids, [prefixes.length, MAX_LEN]);
}

/** The contract's name of a tfjs-layers weight, from its layer and its own name. */
function contractName(layerClass: string, recurrentIndex: number, weightName: string): string {
  const suffix = weightName.slice(weightName.lastIndexOf("/") + 1);
  if (layerClass === "Embedding" && suffix === "embeddings") return "embedding";
  if (layerClass === "Dense") return `output/${suffix}`;
  const rnn: Record<string, string> = {
    kernel: "kernel",
    recurrent_kernel: "recurrent",
    bias: "bias",
  };
  const mapped = rnn[suffix];
  if ((layerClass === "LSTM" || layerClass === "GRU") && mapped)
    return `rnn_${recurrentIndex}/${mapped}`;
  throw new Error(`no contract name for ${layerClass} weight ${weightName}`);
}

/**
 * The reference: tfjs-layers' embedding (maskZero) → recurrent stack → dense (untied only),
 * every weight uniform ±0.5, and the same values under the contract's names for the runtime.
 */
function reference(
  net: NetConfig,
  seed: number,
): { model: tf.Sequential; weights: Map<string, Float32Array> } {
  const model = tf.sequential();
  model.add(
    tf.layers.embedding({ inputDim: V, outputDim: DIM, maskZero: true, inputShape: [MAX_LEN] }),
  );
  const recurrent = net.cell === "lstm" ? tf.layers.lstm : tf.layers.gru;
  for (let layer = 0; layer < net.layers; layer++) {
    model.add(
      recurrent({
        units: DIM,
        recurrentActivation: "sigmoid",
        returnSequences: layer < net.layers - 1,
      }),
    );
  }
  if (!net.tied) model.add(tf.layers.dense({ units: V }));

  const next = seededFloats(seed);
  const weights = new Map<string, Float32Array>();
  const tensors: tf.Tensor[] = [];
  let recurrentIndex = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    for (const weight of layer.weights) {
      const shape = weight.shape as number[]; // a built layer's weights have no unknown dims
      const values = uniform(
        next,
        shape.reduce((a, b) => a * b, 1),
      );
      weights.set(contractName(cls, recurrentIndex, weight.originalName), values);
      tensors.push(tf.tensor(values, shape));
    }
    if (cls === "LSTM" || cls === "GRU") recurrentIndex++;
  }
  model.setWeights(tensors);
  tf.dispose(tensors);
  if (net.tied) weights.set("output/bias", uniform(next, V));

  // The contract's shapes are tfjs-layers' shapes.
  const specs = netWeightSpecs(net);
  expect([...weights.keys()].sort()).toEqual(specs.map((s) => s.name).sort());
  for (const spec of specs) {
    expect(weights.get(spec.name)?.length).toBe(spec.shape.reduce((a, b) => a * b, 1));
  }
  return { model, weights };
}

/** tfjs's logits [n, V]: the dense layer's, or h·Eᵀ + b for tied. */
function referenceLogits(
  net: NetConfig,
  model: tf.Sequential,
  weights: Map<string, Float32Array>,
  prefixes: number[][],
): Float32Array {
  return tf.tidy(() => {
    const output = model.predict(padded(prefixes)) as tf.Tensor2D;
    if (!net.tied) return output.dataSync() as Float32Array;
    const embedding = tf.tensor2d(weights.get("embedding") as Float32Array, [V, DIM]);
    const bias = tf.tensor1d(weights.get("output/bias") as Float32Array);
    return tf.add(tf.matMul(output, embedding, false, true), bias).dataSync() as Float32Array;
  });
}

/** tf.topk of each row after pushing padding and unknown to -Infinity. */
function referenceTopK(logits: Float32Array, n: number): Int32Array {
  return tf.tidy(() => {
    const masked = logits.slice();
    for (let p = 0; p < n; p++) {
      masked[p * V] = Number.NEGATIVE_INFINITY;
      masked[p * V + 1] = Number.NEGATIVE_INFINITY;
    }
    return tf.topk(tf.tensor2d(masked, [n, V]), K).indices.dataSync() as Int32Array;
  });
}

function expectParity(net: NetConfig, seed: number): void {
  const { model, weights } = reference(net, seed);
  const prefixes = randomPrefixes(seed + 1);
  const expected = referenceLogits(net, model, weights, prefixes);
  model.dispose();
  const runtime = new NetRuntime(net, weights);
  const actual = runtime.scores(prefixes);
  expect(actual.length).toBe(expected.length);

  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const error =
      Math.abs((actual[i] as number) - (expected[i] as number)) /
      Math.max(1, Math.abs(expected[i] as number));
    worst = Math.max(worst, error);
  }
  expect(worst).toBeLessThan(1e-4);

  const top = referenceTopK(expected, prefixes.length);
  const ids = new Int32Array(K);
  const values = new Float32Array(K);
  let ties = 0;
  for (let p = 0; p < prefixes.length; p++) {
    expect(topK(actual, p * V, V, K, [0, 1], ids, values)).toBe(K);
    for (let r = 0; r < K; r++) {
      const ours = ids[r] as number;
      const theirs = top[p * K + r] as number;
      if (ours === theirs) continue;
      // A different id only where tfjs itself scores the two as a tie.
      expect(
        Math.abs((expected[p * V + ours] as number) - (expected[p * V + theirs] as number)),
      ).toBeLessThanOrEqual(TIE);
      ties++;
    }
  }
  expect(ties).toBeLessThan(prefixes.length * K * 0.001);
}

describe("NetRuntime against tfjs-layers", () => {
  it.each([
    { cell: "lstm" as const, layers: 1 },
    { cell: "lstm" as const, layers: 2 },
    { cell: "gru" as const, layers: 1 },
    { cell: "gru" as const, layers: 2 },
  ])("untied $cell × $layers: same logits and top-20", ({ cell, layers }) => {
    expectParity(config(cell, layers, false), 100 + 10 * layers + (cell === "lstm" ? 0 : 1));
  });

  it.each([
    { cell: "lstm" as const, layers: 1 },
    { cell: "gru" as const, layers: 2 },
  ])("tied $cell × $layers: same logits and top-20", ({ cell, layers }) => {
    expectParity(config(cell, layers, true), 200 + 10 * layers + (cell === "lstm" ? 0 : 1));
  });
});

describe("NetRuntime", () => {
  function randomWeights(net: NetConfig, seed: number): Map<string, Float32Array> {
    const next = seededFloats(seed);
    return new Map(
      netWeightSpecs(net).map((s) => [
        s.name,
        uniform(
          next,
          s.shape.reduce((a, b) => a * b, 1),
        ),
      ]),
    );
  }

  it.each([
    { cell: "lstm" as const, tied: false },
    { cell: "gru" as const, tied: true },
  ])("gives the zero state's scores for an empty prefix ($cell, tied $tied)", ({ cell, tied }) => {
    const net = config(cell, 2, tied);
    const weights = randomWeights(net, 7);
    const runtime = new NetRuntime(net, weights);
    expect(runtime.stateSize).toBe(DIM);
    expect(runtime.states([[]])).toEqual(new Float32Array(DIM));
    // h = 0, so the scores are the output bias alone.
    expect(runtime.scores([[]])).toEqual(weights.get("output/bias"));
  });

  it("reads only the last maxLen ids of a prefix", () => {
    const net = config("lstm", 2, false);
    const runtime = new NetRuntime(net, randomWeights(net, 8));
    const long = randomPrefixes(9)
      .slice(0, 100)
      .map((p) => [...p, ...p, 5]);
    const tails = long.map((p) => p.slice(-MAX_LEN));
    expect(runtime.scores(long)).toEqual(runtime.scores(tails));
    expect(runtime.states(long)).toEqual(runtime.states(tails));
  });

  it("gives each prefix the same scores alone or in any block (8 + 4 + 2 + 1 of 15)", () => {
    const net = config("gru", 1, false);
    const runtime = new NetRuntime(net, randomWeights(net, 10));
    const prefixes = randomPrefixes(11).slice(0, 15);
    const together = runtime.scores(prefixes);
    const states = runtime.states(prefixes);
    prefixes.forEach((prefix, p) => {
      expect(runtime.scores([prefix])).toEqual(together.subarray(p * V, (p + 1) * V));
      expect(runtime.states([prefix])).toEqual(states.subarray(p * DIM, (p + 1) * DIM));
    });
    const out = new Float32Array(prefixes.length * V);
    expect(runtime.scores(prefixes, out)).toBe(out);
    expect(out).toEqual(together);
  });

  it("computes the first layer's input per step, identically, when its table is not built", () => {
    for (const cell of ["lstm", "gru"] as const) {
      const net = config(cell, 2, false);
      const weights = randomWeights(net, 14);
      const prefixes = randomPrefixes(15).slice(0, 50);
      const tabled = new NetRuntime(net, weights).scores(prefixes);
      expect(new NetRuntime(net, weights, { inputTableMaxFloats: 0 }).scores(prefixes)).toEqual(
        tabled,
      );
    }
  });

  it("names a missing, wrongly sized or unexpected weight", () => {
    const net = config("lstm", 2, true);
    const weights = randomWeights(net, 12);
    const without = new Map(weights);
    without.delete("rnn_1/recurrent");
    expect(() => new NetRuntime(net, without)).toThrow(
      /weight "rnn_1\/recurrent" is missing.*\[16, 64\] \(1024 values\)/,
    );
    const short = new Map(weights).set("output/bias", new Float32Array(V - 1));
    expect(() => new NetRuntime(net, short)).toThrow(
      /weight "output\/bias" has the wrong size: expected shape \[300\] \(300 values\), got 299 values/,
    );
    const extra = new Map(weights).set("output/kernel", new Float32Array(DIM * V));
    expect(() => new NetRuntime(net, extra)).toThrow(/unexpected weight "output\/kernel"/);
  });

  it("rejects ids outside the vocabulary", () => {
    const net = config("gru", 1, true);
    const runtime = new NetRuntime(net, randomWeights(net, 13));
    expect(() => runtime.scores([[2, V]])).toThrow(/prefix 0 holds id 300 at position 1/);
    expect(() => runtime.states([[2], [-1]])).toThrow(/prefix 1 holds id -1/);
  });
});

describe("topK", () => {
  function top(scores: number[], k: number, exclude: number[] = []): [number[], number[]] {
    const ids = new Int32Array(k);
    const values = new Float32Array(k);
    const n = topK(Float32Array.from(scores), 0, scores.length, k, exclude, ids, values);
    return [[...ids.subarray(0, n)], [...values.subarray(0, n)]];
  }

  it("breaks ties by the smaller id", () => {
    expect(top([1, 3, 2, 3, 3, 2], 4)).toEqual([
      [1, 3, 4, 2],
      [3, 3, 3, 2],
    ]);
    expect(top([5, 5, 5, 5, 5, 5, 5, 5], 3)[0]).toEqual([0, 1, 2]);
  });

  it("never picks an excluded id, nor a NaN", () => {
    expect(top([9, 8, 7, 6, Number.NaN, 5], 3, [0, 2])[0]).toEqual([1, 3, 5]);
  });

  it("returns fewer than k when fewer ids are eligible", () => {
    expect(top([1, 2, 3], 5, [1])).toEqual([
      [2, 0],
      [3, 1],
    ]);
    expect(top([], 3)[0]).toEqual([]);
    expect(top([1, 2], 0)[0]).toEqual([]);
  });

  it("reads one row of a matrix, ids relative to it", () => {
    const scores = Float32Array.from([9, 9, 9, 1, 4, 2, 9, 9]);
    const ids = new Int32Array(2);
    const values = new Float32Array(2);
    expect(topK(scores, 3, 3, 2, [], ids, values)).toBe(2);
    expect([...ids]).toEqual([1, 2]);
    expect([...values]).toEqual([4, 2]);
  });

  it("agrees with a full sort on random rows", () => {
    const next = seededFloats(3);
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(next() * 500);
      const k = 1 + Math.floor(next() * 40);
      // Few distinct values, so ties are common.
      const scores = Float32Array.from({ length: n }, () => Math.floor(next() * 50) - 25);
      const exclude = Array.from({ length: Math.floor(next() * 5) }, () => Math.floor(next() * n));
      const expected = [...scores.keys()]
        .filter((id) => !exclude.includes(id))
        .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
        .slice(0, k);
      const ids = new Int32Array(k);
      const values = new Float32Array(k);
      const count = topK(scores, 0, n, k, exclude, ids, values);
      expect([...ids.subarray(0, count)]).toEqual(expected);
      expect([...values.subarray(0, count)]).toEqual(expected.map((id) => scores[id]));
    }
  });

  it("rejects a row outside the scores or outputs shorter than k", () => {
    const scores = new Float32Array(10);
    expect(() => topK(scores, 5, 6, 2, [], new Int32Array(2), new Float32Array(2))).toThrow(
      RangeError,
    );
    expect(() => topK(scores, 0, 10, 3, [], new Int32Array(2), new Float32Array(3))).toThrow(
      RangeError,
    );
  });
});
