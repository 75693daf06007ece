/**
 * The behavioral suite's parts (slices, perturbation, shuffle, unknown SKUs, "less wrong") and
 * evaluateAll end to end on hand-made sessions whose every figure is computed by hand.
 */
import { describe, expect, it } from "vitest";
import { Catalog, type EvalSession } from "../../pipeline/evaluate/catalog.ts";
import { evaluateAll, METRIC_NAMES } from "../../pipeline/evaluate/evaluate.ts";
import { formatMetricTable, formatSliceTable } from "../../pipeline/evaluate/format.ts";
import { PopularityRecommender } from "../../pipeline/evaluate/popularity.ts";
import type { Recommender, RecommenderKind } from "../../pipeline/evaluate/recommender.ts";
import {
  invalidity,
  lessWrong,
  perturb,
  sessionLengthBucket,
  shufflePrefix,
  sliceLabels,
  unknownSkuSessions,
} from "../../pipeline/evaluate/suite.ts";
import { Rng } from "../../pipeline/prng.ts";

// Percentiles (see evaluate-metrics): a 0.9, b 0.6, c 0.6, d 0.1, e 0.3.
const catalog = new Catalog([
  { sku: "a", categoryPath: "X/Y", priceBucket: 1, trainPopularity: 5 },
  { sku: "b", categoryPath: "X/Y", priceBucket: 2, trainPopularity: 3 },
  { sku: "c", categoryPath: "X/Z", priceBucket: 3, trainPopularity: 3 },
  { sku: "d", categoryPath: "W/V", priceBucket: null, trainPopularity: 0 },
  { sku: "e", categoryPath: null, priceBucket: 4, trainPopularity: 1 },
]);

/** Answers from a table keyed by the prefix; counts the calls and their sizes. */
class TableRecommender implements Recommender {
  readonly batches: number[] = [];
  constructor(
    readonly name: string,
    readonly kind: RecommenderKind,
    private readonly table: Record<string, string[]>,
  ) {}
  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    this.batches.push(prefixes.length);
    return prefixes.map((p) => (this.table[p.join(",")] ?? []).slice(0, k));
  }
}

describe("suite parts", () => {
  it("buckets session lengths", () => {
    expect([2, 3, 4, 5, 9, 10, 19, 20, 60].map(sessionLengthBucket)).toEqual([
      "2",
      "3-4",
      "3-4",
      "5-9",
      "5-9",
      "10-19",
      "10-19",
      "20+",
      "20+",
    ]);
  });

  it("labels a case in every slice family", () => {
    expect(sliceLabels(["e", "a"], "d", 3, catalog)).toEqual({
      session_length: "3-4",
      last_item_category: "X",
      target_price_bucket: "unknown",
      target_in_train: "unseen",
    });
    expect(sliceLabels(["a", "e"], "c", 2, catalog)).toEqual({
      session_length: "2",
      last_item_category: "unknown",
      target_price_bucket: "3",
      target_in_train: "seen",
    });
  });

  it("perturbs one item into a train-seen item of its leaf", () => {
    // Only a and b share a leaf; c, d and e have no alternative.
    const rng = Rng.from(1);
    for (let i = 0; i < 20; i++) {
      const out = perturb(["c", "a", "d"], catalog, rng);
      expect(out).toEqual(["c", "b", "d"]);
    }
    expect(perturb(["c", "d", "e"], catalog, rng)).toBeNull();
  });

  it("shuffles into a different order, or gives up when there is none", () => {
    const rng = Rng.from(2);
    for (let i = 0; i < 20; i++) {
      const out = shufflePrefix(["a", "b"], rng);
      expect(out).toEqual(["b", "a"]);
      const long = shufflePrefix(["a", "b", "c", "d"], rng) as string[];
      expect([...long].sort()).toEqual(["a", "b", "c", "d"]);
      expect(long).not.toEqual(["a", "b", "c", "d"]);
    }
    expect(shufflePrefix(["a"], rng)).toBeNull();
    expect(shufflePrefix(["a", "a"], rng)).toBeNull();
  });

  it("makes sessions of SKUs outside the catalog", () => {
    const unknown = unknownSkuSessions(30, catalog, Rng.from(3));
    expect(unknown).toHaveLength(30);
    const all = unknown.flat();
    expect(new Set(all).size).toBe(all.length);
    for (const s of unknown) expect(s.length).toBeGreaterThanOrEqual(1);
    for (const s of unknown) expect(s.length).toBeLessThanOrEqual(3);
    for (const sku of all) expect(catalog.has(sku)).toBe(false);
  });

  it("says why a list is not k valid recommendations", () => {
    // The catalog has 4 train-seen items: that is all k can ask for.
    expect(invalidity(["a", "b", "c", "e"], ["x"], 20, catalog)).toBeNull();
    expect(invalidity(["a", "b"], ["x"], 2, catalog)).toBeNull();
    expect(invalidity(["a", "b", "c"], ["x"], 20, catalog)).toBe("3 items, expected 4");
    expect(invalidity(["a", "a", "b", "c"], ["x"], 20, catalog)).toBe("duplicate items");
    expect(invalidity(["a", "b", "c", "q"], ["x"], 20, catalog)).toBe("not a catalog SKU: q");
    expect(invalidity(["a", "b", "c"], ["x"], 2, catalog)).toBe("3 items, more than k = 2");
  });

  it("measures how wrong the top-1 misses are in the category tree", () => {
    // Hits and empty lists are not judged; e has no category.
    const result = lessWrong(
      ["a", "b", "c", "d", undefined, "e"],
      ["a", "a", "a", "a", "a", "a"],
      catalog,
    );
    expect(result).toEqual({
      n: 3,
      unknown: 1,
      meanDistance: (0 + 2 + 4) / 3,
      sameLeafShare: 1 / 3,
      histogram: { "0": 1, "2": 1, "4": 1 },
    });
    expect(lessWrong([], [], catalog).meanDistance).toBeNull();
  });
});

describe("evaluateAll on hand-made sessions", () => {
  // Cases: [a] → b, [a, b] → c (last of S1), [b] → d (last of S2).
  const test: EvalSession[] = [
    { key: "S1", items: ["a", "b", "c"] },
    { key: "S2", items: ["b", "d"] },
    { key: "short", items: ["e"] },
  ];
  const table = {
    a: ["b", "c"], // rank 1
    "a,b": ["b", "a", "c"], // rank 3
    b: ["a"], // miss
  };
  const model = () => new TableRecommender("lstm", "model", table);

  it("computes every accuracy and beyond-accuracy figure exactly", async () => {
    const lstm = model();
    const report = await evaluateAll([lstm], test, catalog, {
      robustnessSessions: 0,
      unknownSessions: 0,
      batchSize: 2,
      bootstrapIterations: 50,
    });
    const m = (report.recommenders[0] as (typeof report.recommenders)[0]).metrics;
    expect(m["hr@10"]).toMatchObject({ value: 2 / 3, n: 3 });
    expect(m["hr@20"]).toMatchObject({ value: 2 / 3, n: 3 });
    expect(m["mrr@20"].value).toBeCloseTo((1 + 1 / 3) / 3, 15);
    expect(m["last_hr@20"]).toEqual({ value: 1 / 2, n: 2 });
    expect(m["last_mrr@20"].value).toBeCloseTo(1 / 3 / 2, 15);
    expect(m["coverage@20"]).toEqual({ value: 3 / 5, n: 3 });
    expect(m["coverage@10"]).toEqual({ value: 3 / 5, n: 3 });
    expect(m.popularity_bias.value).toBeCloseTo((0.6 + 0.6 + 0.6 + 0.9 + 0.6 + 0.9) / 6, 15);
    expect(m.popularity_bias.n).toBe(6);
    // [a, b] → b and a repeat; the others repeat nothing.
    expect(m.repeat_share).toEqual({ value: 2 / 6, n: 6 });
    // Misses at top-1: b for c (distance 2), a for d (distance 4).
    expect(m.less_wrong_distance).toEqual({ value: 3, n: 2 });
    expect(m.less_wrong_same_leaf).toEqual({ value: 0, n: 2 });
    expect(m.perturbation_overlap).toEqual({ value: null, n: 0 });
    expect(m.unknown_sku_validity).toEqual({ value: null, n: 0 });
    expect(Object.keys(m).sort()).toEqual([...METRIC_NAMES].sort());
    // Batches of 2: the three prefixes in two calls.
    expect(lstm.batches).toEqual([2, 1]);

    expect(report.counts).toMatchObject({
      testSessions: 3,
      evaluableSessions: 2,
      evaluatedSessions: 2,
      prefixes: 3,
      lastItems: 2,
      catalogItems: 5,
      trainItems: 4,
    });
    expect(report.roles).toEqual({ candidate: "lstm", production: null });
    const slices = (report.recommenders[0] as (typeof report.recommenders)[0]).slices;
    const hr = (family: string, slice: string) =>
      slices.find((s) => s.family === family && s.slice === slice);
    expect(hr("session_length", "3-4")).toEqual({
      family: "session_length",
      slice: "3-4",
      n: 2,
      hr20: 1,
    });
    expect(hr("session_length", "2")).toMatchObject({ n: 1, hr20: 0 });
    expect(hr("last_item_category", "X")).toMatchObject({ n: 3, hr20: 2 / 3 });
    expect(hr("target_price_bucket", "unknown")).toMatchObject({ n: 1, hr20: 0 });
    expect(hr("target_in_train", "seen")).toMatchObject({ n: 2, hr20: 1 });
    expect(hr("target_in_train", "unseen")).toMatchObject({ n: 1, hr20: 0 });
    // Plain data: survives JSON unchanged.
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("pairs the bootstrap: a recommender equal to the candidate differs by exactly 0", async () => {
    const report = await evaluateAll(
      [model(), new TableRecommender("production", "model", { a: ["b"], "a,b": ["b", "a", "c"] })],
      test,
      catalog,
      { bootstrapIterations: 200, robustnessSessions: 0, unknownSessions: 0 },
    );
    expect(report.roles).toEqual({ candidate: "lstm", production: "production" });
    const twin = await evaluateAll(
      [model(), new TableRecommender("twin", "baseline", table)],
      test,
      catalog,
      { bootstrapIterations: 200, robustnessSessions: 0, unknownSessions: 0 },
    );
    for (const c of twin.comparisons) {
      expect(c.difference).toBe(0);
      expect(c.ci).toMatchObject({ low: 0, high: 0 });
    }
    // production ranks every target where lstm does (it only lacks lstm's wrong answer to [b]).
    const hr = report.comparisons.find((c) => c.metric === "hr@20");
    expect(hr).toMatchObject({ candidate: "lstm", reference: "production", difference: 0 });
    const ci = report.recommenders[0]?.metrics["hr@20"].ci;
    expect(ci?.low).toBeLessThanOrEqual(2 / 3);
    expect(ci?.high).toBeGreaterThanOrEqual(2 / 3);
    expect(ci?.level).toBe(0.95);
  });

  it("runs the robustness checks on every recommender with the same inputs", async () => {
    const pop = new PopularityRecommender(
      new Map([
        ["a", 5],
        ["b", 3],
        ["c", 3],
        ["e", 1],
      ]),
      { excludeLast: false },
    );
    const echo: Recommender = {
      name: "echo",
      kind: "baseline",
      recommend: async (prefixes) => prefixes.map((p) => [...p]),
    };
    const report = await evaluateAll([pop, echo], test, catalog, {
      unknownSessions: 7,
      bootstrapIterations: 20,
    });
    const [popReport, echoReport] = report.recommenders;
    // Popularity ignores the prefix: nothing a perturbation or a shuffle does changes it.
    expect(report.counts).toMatchObject({ perturbed: 2, shuffled: 1, unknownSkuSessions: 7 });
    expect(popReport?.metrics.perturbation_overlap).toEqual({ value: 1, n: 2 });
    expect(popReport?.metrics.shuffle_overlap).toEqual({ value: 1, n: 1 });
    expect(popReport?.metrics.unknown_sku_validity).toEqual({ value: 1, n: 7 });
    expect(popReport?.robustnessSkipped).toEqual({ perturbation: 0, shuffle: 1 });
    // Echoing the prefix: [a, b] shuffled is [b, a] (same set), perturbed [a]→[b] is disjoint.
    expect(echoReport?.metrics.shuffle_overlap).toEqual({ value: 1, n: 1 });
    expect(echoReport?.metrics.unknown_sku_validity).toEqual({ value: 0, n: 7 });
    expect(echoReport?.unknownSkuFailures[0]).toMatch(/^\d items, expected 4$/);
    expect(report.roles).toEqual({ candidate: null, production: null });
    expect(report.comparisons).toEqual([]);

    const table = formatMetricTable(report);
    expect(table.split("\n")[0]).toMatch(/^recommender\s+kind\s+HR@10\s+HR@20 \[95% CI\]/);
    expect(table).toMatch(/^popularity\s+baseline\s+0\.\d{4}\s+0\.\d{4} \[/m);
    expect(formatSliceTable(report)).toMatch(/^session_length=2\s+1\s+/m);
  });

  it("samples whole sessions up to maxPrefixes, the same for the same seed", async () => {
    const many: EvalSession[] = Array.from({ length: 40 }, (_, i) => ({
      key: `s${i}`,
      items: i % 2 ? ["a", "b", "c"] : ["b", "d"],
    }));
    const run = (seed: number) =>
      evaluateAll([model()], many, catalog, {
        maxPrefixes: 10,
        seed,
        bootstrapIterations: 10,
        unknownSessions: 0,
      });
    const a = await run(1);
    expect(a.counts.prefixes).toBeLessThanOrEqual(10);
    expect(a.counts.prefixes).toBeGreaterThanOrEqual(9);
    expect(a.counts.evaluableSessions).toBe(40);
    expect(a.counts.evaluatedSessions).toBeLessThan(10);
    expect(a.settings.maxPrefixes).toBe(10);
    const again = await run(1);
    expect(again.recommenders[0]?.metrics).toEqual(a.recommenders[0]?.metrics);
  });

  it("reports progress per batch and checks the recommenders' answers", async () => {
    const events: string[] = [];
    await evaluateAll([model()], test, catalog, {
      batchSize: 2,
      robustnessSessions: 0,
      unknownSessions: 0,
      bootstrapIterations: 10,
      onProgress: (p) => events.push(`${p.recommender} ${p.phase} ${p.done}/${p.total}`),
    });
    expect(events).toEqual(["lstm accuracy 2/3", "lstm accuracy 3/3", "lstm robustness 0/0"]);

    const short: Recommender = { name: "short", kind: "model", recommend: async () => [] };
    await expect(evaluateAll([short], test, catalog)).rejects.toThrow(
      'recommender "short" answered 0 lists for 3 prefixes',
    );
    const broken: Recommender = {
      name: "broken",
      kind: "model",
      recommend: async () => {
        throw new Error("out of memory");
      },
    };
    await expect(evaluateAll([broken], test, catalog)).rejects.toThrow(
      'recommender "broken" failed on a batch of 3 prefixes: out of memory',
    );
    await expect(evaluateAll([model(), model()], test, catalog)).rejects.toThrow(
      'two recommenders are named "lstm"',
    );
    await expect(evaluateAll([model()], test, catalog, { production: "nope" })).rejects.toThrow(
      'the production "nope" is not among the recommenders',
    );
    for (const [options, message] of [
      [{ batchSize: 0 }, "batchSize must be a positive integer, got 0"],
      [{ maxPrefixes: 2.5 }, "maxPrefixes must be a positive integer, got 2.5"],
      [{ robustnessSessions: -1 }, "robustnessSessions must be a non-negative integer, got -1"],
      [{ confidence: 1 }, "confidence must be between 0 and 1, got 1"],
    ] as const) {
      await expect(evaluateAll([model()], test, catalog, options)).rejects.toThrow(message);
    }
  });
});

describe("the robustness inputs", () => {
  it("do not depend on the order the warehouse returned the catalog in", () => {
    const rows = Array.from({ length: 60 }, (_, i) => ({
      sku: `sku-${String(i).padStart(2, "0")}`,
      categoryPath: `C/${i % 3}`,
      priceBucket: 1 + (i % 10),
      trainPopularity: i % 7,
    }));
    const forward = new Catalog(rows);
    const backward = new Catalog([...rows].reverse());
    const prefixes = Array.from({ length: 20 }, (_, i) => [
      `sku-${String(i).padStart(2, "0")}`,
      `sku-${String(59 - i)}`,
    ]);
    const draw = (c: Catalog) => {
      const rng = Rng.from(1, 2, 3);
      return {
        perturbed: prefixes.map((p) => perturb(p, c, rng)),
        unknown: unknownSkuSessions(5, c, Rng.from(4, 5, 6)),
      };
    };
    expect(draw(backward)).toEqual(draw(forward));
  });
});
