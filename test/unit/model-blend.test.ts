/**
 * The blend (pipeline/model/blend.ts), its fitting (fit-blend.ts) and the SKU-level predictor
 * (predictor.ts): each component's values, the weighted sum and the exclusions, fitting ranks
 * that equal the dense ranking's for the top 20, a fit at least as good as any single component, the
 * one-standard-error rule, and the predictor's handling of unknown SKUs.
 */
import { describe, expect, it } from "vitest";
import { BlendScorer, type BlendSpec, type ComponentKind } from "../../pipeline/model/blend.ts";
import {
  fitCase,
  fitMetrics,
  fitWeights,
  rankOf,
  type FitCase,
} from "../../pipeline/model/fit-blend.ts";
import { SessionIndex } from "../../pipeline/model/neighbours.ts";
import { netWeightSpecs, type NetConfig } from "../../pipeline/model/net.ts";
import { NetRuntime } from "../../pipeline/model/net-runtime.ts";
import { Predictor } from "../../pipeline/model/predictor.ts";
import { Vocabulary } from "../../pipeline/model/vocabulary.ts";
import { seededFloats } from "../../pipeline/prng.ts";

const V = 60;
const next = seededFloats(8);
const config: NetConfig = {
  cell: "gru",
  vocabSize: V,
  embeddingDim: 6,
  hiddenUnits: 6,
  layers: 1,
  tied: true,
  maxLen: 5,
};
const net = new NetRuntime(
  config,
  new Map(
    netWeightSpecs(config).map(({ name, shape }) => [
      name,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * 0.8),
    ]),
  ),
);
const train = Array.from({ length: 200 }, () =>
  Int32Array.from(
    { length: 2 + Math.floor(next() * 6) },
    () => 2 + Math.floor(next() ** 2 * (V - 2)),
  ),
);
const index = new SessionIndex(train, V, { neighbours: 20, sampleSize: 50 });
const evidence = { vocabSize: V, net, index };
const ALL: ComponentKind[] = ["neural", "sknn", "cooccurrence", "repeat"];
const spec = (weights: number[], kinds = ALL): BlendSpec => ({
  components: kinds.map((kind, i) => ({ kind, weight: weights[i] as number })),
});

describe("a blend's scores", () => {
  it("scales each component to a best eligible value of 1 and sums them with their weights", () => {
    const prefix = Int32Array.from([5, 9, 5, 12]);
    const scorer = new BlendScorer(spec([1, 1, 1, 1]), evidence, { excludeLast: true });
    const excluded = scorer.excluded(prefix);
    expect(excluded).toEqual([0, 1, 12]);
    const neural = scorer.neural(prefix, excluded).slice();
    const repeat = scorer.sparse("repeat", prefix, excluded);
    // Repeats: 5 last seen at position 3 of 4, 9 at 2 (12 is the excluded last item).
    const repeats = new Map(
      Array.from({ length: repeat.length }, (_, i) => [
        repeat.ids[i],
        (repeat.values[i] as number) * repeat.scale,
      ]),
    );
    expect(repeats.get(5)).toBeCloseTo(1);
    expect(repeats.get(9)).toBeCloseTo(2 / 3);
    const successors = index.successors(12);
    const cooc = scorer.sparse("cooccurrence", prefix, excluded);
    expect(cooc.length).toBe(successors.length);
    const weights = [0.5, 2, 0.25, 1];
    const out = new BlendScorer(spec(weights), evidence, { excludeLast: true }).score(prefix);
    const expected = new Float64Array(V);
    for (let id = 0; id < V; id++) expected[id] = 0.5 * (neural[id] as number);
    const knn = index.sknn(prefix);
    let max = 0;
    for (let i = 0; i < knn.length; i++)
      if (!excluded.includes(knn.ids[i] as number)) max = Math.max(max, knn.scores[i] as number);
    const add = (id: number, value: number) => (expected[id] = (expected[id] as number) + value);
    for (let i = 0; i < knn.length; i++)
      add(knn.ids[i] as number, (2 * (knn.scores[i] as number)) / max);
    let maxCount = 0;
    for (let i = 0; i < successors.length; i++)
      if (!excluded.includes(successors.ids[i] as number))
        maxCount = Math.max(maxCount, successors.counts[i] as number);
    for (let i = 0; i < successors.length; i++) {
      add(successors.ids[i] as number, (0.25 * (successors.counts[i] as number)) / maxCount);
    }
    for (const [id, value] of repeats) add(id as number, value);
    for (let id = 0; id < V; id++) {
      if (excluded.includes(id)) expect(out[id]).toBe(Number.NEGATIVE_INFINITY);
      else expect(out[id]).toBeCloseTo(expected[id] as number, 5);
    }
    // The network's best eligible item scores 1 before weighting.
    expect(Math.max(...[...neural].filter((_, id) => !excluded.includes(id)))).toBeCloseTo(1);
  });

  it("alone, the network reports its softmax probabilities over the whole vocabulary", () => {
    const prefix = Int32Array.from([3, 4]);
    const out = new BlendScorer(spec([1], ["neural"]), evidence, { excludeLast: false }).score(
      prefix,
    );
    const logits = net.scores([prefix]);
    const max = Math.max(...logits);
    const sum = logits.reduce((s, v) => s + Math.exp(v - max), 0);
    for (let id = 2; id < V; id++)
      expect(out[id]).toBeCloseTo(Math.exp((logits[id] as number) - max) / sum, 6);
  });

  it("refuses components it has no evidence for, and bad weights", () => {
    expect(
      () => new BlendScorer(spec([1, 1]), { vocabSize: V, net }, { excludeLast: true }),
    ).toThrow(/index/);
    expect(() => new BlendScorer(spec([1, -1]), evidence, { excludeLast: true })).toThrow(
      /weight -1/,
    );
    expect(() => new BlendScorer({ components: [] }, evidence, { excludeLast: true })).toThrow(
      /at least one/,
    );
  });
});

describe("fitting", () => {
  const scorer = new BlendScorer(spec([1, 1, 1, 1]), evidence, { excludeLast: true });
  const sessions = Array.from({ length: 120 }, () =>
    Int32Array.from(
      { length: 2 + Math.floor(next() * 5) },
      () => 2 + Math.floor(next() ** 2 * (V - 2)),
    ),
  );
  const cases: { prefix: Int32Array; target: number; c: FitCase }[] = [];
  for (const s of sessions) {
    for (let t = 1; t < s.length; t++) {
      const prefix = s.subarray(0, t);
      cases.push({ prefix, target: s[t] as number, c: fitCase(scorer, prefix, s[t] as number) });
    }
  }

  /** The target's rank in the dense scores of a blend with these weights (ties: smaller id). */
  function denseRank(prefix: Int32Array, target: number, weights: number[]): number {
    const out = new BlendScorer(spec(weights), evidence, { excludeLast: true }).score(prefix);
    if (!Number.isFinite(out[target] as number)) return Infinity;
    let rank = 1;
    for (let id = 0; id < V; id++) {
      const s = out[id] as number;
      if (id !== target && (s > (out[target] as number) || (s === out[target] && id < target)))
        rank++;
    }
    return rank;
  }

  it("ranks each case as the dense blend does, for every rank up to 20", () => {
    for (const weights of [
      [1, 1, 1, 1],
      [0.3, 2, 0, 1],
      [0, 1, 0.5, 0],
      [0, 0, 0, 1],
      [2, 0, 0, 0],
    ]) {
      for (const { prefix, target, c } of cases) {
        const dense = denseRank(prefix, target, weights);
        const fitted = rankOf(c, weights);
        if (dense <= 20 || fitted <= 20) expect(fitted, `weights ${weights}`).toBe(dense);
      }
    }
  });

  it("scores at least as well as any single component, and prefers one unless a blend beats it beyond noise", () => {
    const fitted = fitWeights(
      ALL,
      cases.map((x) => x.c),
    );
    const best = Math.max(...fitted.spec.components.map((c) => c.weight));
    expect(best).toBe(1);
    // The fit weighs HR@20 and MRR@20 relative to the equal-weights blend's.
    const reference = fitMetrics(
      cases.map((x) => x.c),
      [1, 1, 1, 1],
    );
    const objective = (hr: number, mrr: number) => hr / reference.hr + mrr / reference.mrr;
    const score = objective(fitted.metrics.hr, fitted.metrics.mrr);
    for (const single of [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]) {
      const m = cases.map((x) => rankOf(x.c, single));
      const hr = m.filter((r) => r <= 20).length / m.length;
      const mrr = m.reduce((s, r) => s + (r <= 20 ? 1 / r : 0), 0) / m.length;
      expect(score).toBeGreaterThanOrEqual(objective(hr, mrr) - 1e-9);
    }
    // Two cases only: no blend can beat the best single component beyond noise.
    const tiny = fitWeights(
      ALL,
      cases.slice(0, 2).map((x) => x.c),
    );
    expect(tiny.spec.components.filter((c) => c.weight > 0)).toHaveLength(1);
  });
});

describe("the predictor", () => {
  const skus = Array.from({ length: V - 2 }, (_, i) => `sku-${i}`);
  const vocabulary = Vocabulary.fromCounts(new Map(skus.map((s, i) => [s, 1000 - i])));
  const predictor = new Predictor(
    vocabulary,
    new BlendScorer(spec([1, 0.5, 0.5, 0.5]), evidence, { excludeLast: true }),
  );

  it("counts unknown SKUs, never recommends the last item, and falls back to popularity", () => {
    const [known, unknown] = predictor.predict(
      [
        ["sku-3", "nope", "sku-10"],
        ["nope", "neither"],
      ],
      10,
    );
    expect(known?.unknownSkus).toBe(1);
    expect(known?.fallback).toBe(false);
    expect(known?.items).toHaveLength(10);
    expect(known?.items.map((i) => i.sku)).not.toContain("sku-10");
    expect(new Set(known?.items.map((i) => i.sku)).size).toBe(10);
    expect(unknown).toMatchObject({ unknownSkus: 2, fallback: true });
    expect(unknown?.items.map((i) => i.sku)).toEqual(skus.slice(0, 10));
    // The same session answers the same whatever else is in the call.
    expect(predictor.predict([["sku-3", "nope", "sku-10"]], 10)[0]?.items).toEqual(known?.items);
    // The network does not read unknown SKUs; the neighbourhood counts them in the length.
    const network = new Predictor(
      vocabulary,
      new BlendScorer(spec([1], ["neural"]), evidence, { excludeLast: true }),
    );
    expect(network.predict([["sku-3", "nope", "sku-10"]], 10)[0]?.items).toEqual(
      network.predict([["sku-3", "sku-10"]], 10)[0]?.items,
    );
    const repeat = new Predictor(
      vocabulary,
      new BlendScorer(spec([1], ["repeat"]), evidence, { excludeLast: false }),
    );
    const [withGap] = repeat.predict([["sku-3", "nope", "nope", "sku-10"]], 2);
    expect(withGap?.items.map((i) => [i.sku, i.score])).toEqual([
      ["sku-10", 1],
      ["sku-3", 0.25],
    ]);
  });

  it("caps k at what can be recommended", () => {
    const [p] = predictor.predict([["sku-3"]], 1000);
    expect(p?.items).toHaveLength(V - 3);
    expect(() => predictor.predict([["sku-3"]], 0)).toThrow(/positive integer/);
  });
});
