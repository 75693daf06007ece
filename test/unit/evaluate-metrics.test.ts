/**
 * The metric functions against hand-computed values: ranks with lists shorter than k (k larger
 * than the catalog), MRR, coverage, mid-rank popularity percentiles with ties, repeat share,
 * overlap, category distance, and the session bootstrap.
 */
import { describe, expect, it } from "vitest";
import {
  bootstrapRatios,
  percentileInterval,
  quantile,
} from "../../pipeline/evaluate/bootstrap.ts";
import { Catalog, categoryDistance } from "../../pipeline/evaluate/catalog.ts";
import {
  coverage,
  hitRate,
  meanReciprocalRank,
  overlap,
  popularityBias,
  rankOf,
  repeatShare,
} from "../../pipeline/evaluate/metrics.ts";

// Popularity 5, 3, 3, 0, 1: sorted 0 1 3 3 5, so mid-rank percentiles are
// a (4 + 0.5) / 5 = 0.9, b and c (2 + 2 / 2) / 5 = 0.6, d 0.5 / 5 = 0.1, e 1.5 / 5 = 0.3.
const catalog = new Catalog([
  { sku: "a", categoryPath: "X/Y", priceBucket: 1, trainPopularity: 5 },
  { sku: "b", categoryPath: ["X", "Y"], priceBucket: 2, trainPopularity: 3 },
  { sku: "c", categoryPath: "X/Z", priceBucket: 3, trainPopularity: 3 },
  { sku: "d", categoryPath: "W/V", priceBucket: null, trainPopularity: 0 },
  { sku: "e", categoryPath: null, priceBucket: 4, trainPopularity: 1 },
]);

describe("ranks, HR and MRR", () => {
  it("finds the target within the first k only", () => {
    expect(rankOf(["a", "b", "c"], "c", 20)).toBe(3);
    expect(rankOf(["a", "b", "c"], "c", 2)).toBe(0);
    expect(rankOf(["a", "b", "c"], "z", 20)).toBe(0);
    expect(rankOf([], "a", 20)).toBe(0);
  });

  it("computes HR@k and MRR@k exactly, a miss counting 0", () => {
    const ranks = [1, 3, 0, 12, 20, 21];
    expect(hitRate(ranks, 10)).toEqual({ value: 2 / 6, n: 6 });
    expect(hitRate(ranks, 20)).toEqual({ value: 4 / 6, n: 6 });
    expect(meanReciprocalRank(ranks, 10).value).toBeCloseTo((1 + 1 / 3) / 6, 15);
    expect(meanReciprocalRank(ranks, 20).value).toBeCloseTo((1 + 1 / 3 + 1 / 12 + 1 / 20) / 6, 15);
    expect(hitRate([], 20)).toEqual({ value: null, n: 0 });
  });

  it("takes k larger than the catalog: a complete short list still hits", () => {
    // A five-item catalog asked for 20: the list holds all five, every target is found.
    const list = ["a", "b", "c", "d", "e"];
    const ranks = ["e", "a", "c"].map((target) => rankOf(list, target, 20));
    expect(ranks).toEqual([5, 1, 3]);
    expect(hitRate(ranks, 20).value).toBe(1);
    expect(meanReciprocalRank(ranks, 20).value).toBeCloseTo((1 / 5 + 1 + 1 / 3) / 3, 15);
  });
});

describe("beyond accuracy", () => {
  it("gives tied popularity one mid-rank percentile", () => {
    expect(catalog.get("a")?.popularityPercentile).toBe(0.9);
    expect(catalog.get("b")?.popularityPercentile).toBe(0.6);
    expect(catalog.get("c")?.popularityPercentile).toBe(0.6);
    expect(catalog.get("d")?.popularityPercentile).toBe(0.1);
    expect(catalog.get("e")?.popularityPercentile).toBeCloseTo(0.3, 15);
    expect(catalog.trainItems).toBe(4);
    expect(catalog.get("b")?.categoryPath).toEqual(["X", "Y"]);
    expect(catalog.sameLeaf("a")).toEqual(["a", "b"]);
    expect(catalog.sameLeaf("e")).toEqual([]);
  });

  it("measures coverage over the catalog, counting only catalog SKUs in the first k", () => {
    const lists = [["a", "b", "zz"], ["b", "c"], ["d"]];
    expect(coverage(lists, 20, catalog)).toEqual({ value: 4 / 5, n: 3, distinct: 4 });
    expect(coverage(lists, 1, catalog)).toEqual({ value: 3 / 5, n: 3, distinct: 3 });
  });

  it("averages the percentiles of the recommended SKUs", () => {
    const bias = popularityBias(
      [
        ["a", "b"],
        ["c", "d", "unknown"],
      ],
      20,
      catalog,
    );
    expect(bias.n).toBe(4);
    expect(bias.value).toBeCloseTo((0.9 + 0.6 + 0.6 + 0.1) / 4, 15);
    expect(popularityBias([["a", "d"]], 1, catalog)).toEqual({ value: 0.9, n: 1 });
  });

  it("counts recommendations the session already holds", () => {
    const share = repeatShare(
      [["a", "b"], ["c"]],
      [
        ["b", "c", "a"],
        ["a", "b"],
      ],
      20,
    );
    expect(share).toEqual({ value: 2 / 5, n: 5 });
    expect(repeatShare([["a", "b"]], [["c", "b"]], 1)).toEqual({ value: 0, n: 1 });
  });

  it("measures the overlap of two lists whatever their order", () => {
    expect(overlap(["a", "b", "c", "d"], ["d", "c", "b", "a"], 4)).toBe(1);
    expect(overlap(["a", "b", "c", "d"], ["a", "x", "y", "z"], 4)).toBe(0.25);
    expect(overlap(["a", "b"], ["b", "a"], 1)).toBe(0);
    expect(overlap(["a", "b"], ["a"], 20)).toBe(0.5);
  });

  it("measures distance in the category tree", () => {
    expect(categoryDistance(["X", "Y"], ["X", "Y"])).toBe(0);
    expect(categoryDistance(["X", "Y"], ["X", "Z"])).toBe(2);
    expect(categoryDistance(["X", "Y"], ["W", "V"])).toBe(4);
    expect(categoryDistance(["X", "Y", "Q"], ["X"])).toBe(2);
    expect(categoryDistance([], ["X"])).toBeNull();
  });
});

describe("session bootstrap", () => {
  it("draws ratios of resampled sessions, the same for the same seed", () => {
    // Two sessions of one prefix each, one hit: every replicate is 0, 0.5 or 1.
    const [replicates] = bootstrapRatios([1, 1], [[1, 0]], { iterations: 400, seed: 3 });
    const values = new Set(replicates);
    expect([...values].sort()).toEqual([0, 0.5, 1]);
    const mean = (replicates as Float64Array).reduce((a, b) => a + b, 0) / 400;
    expect(mean).toBeGreaterThan(0.4);
    expect(mean).toBeLessThan(0.6);
    expect(bootstrapRatios([1, 1], [[1, 0]], { iterations: 400, seed: 3 })[0]).toEqual(replicates);
    expect(bootstrapRatios([1, 1], [[1, 0]], { iterations: 400, seed: 4 })[0]).not.toEqual(
      replicates,
    );
  });

  it("weighs sessions by their prefixes and pairs the series", () => {
    // Session 0: 3 prefixes, 3 hits; session 1: 1 prefix, 0 hits. Series 2 = series 1.
    const [a, b] = bootstrapRatios(
      [3, 1],
      [
        [3, 0],
        [3, 0],
      ],
      { iterations: 200, seed: 1 },
    );
    expect([...new Set(a)].sort()).toEqual([0, 0.75, 1]);
    expect(b).toEqual(a);
    const diff = (a as Float64Array).map((v, i) => v - ((b as Float64Array)[i] as number));
    expect(percentileInterval(diff, 0.95)).toEqual({ low: 0, high: 0, level: 0.95 });
  });

  it("takes quantiles by linear interpolation", () => {
    expect(quantile([4, 1, 3, 2], 0)).toBe(1);
    expect(quantile([4, 1, 3, 2], 1)).toBe(4);
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([10, 20], 0.25)).toBe(12.5);
    expect(percentileInterval([5, 5, 5], 0.9)).toEqual({ low: 5, high: 5, level: 0.9 });
  });
});
