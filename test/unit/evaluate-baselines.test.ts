/**
 * The baselines on hand-made sessions with hand-computed rankings: popularity (ties by SKU),
 * next-item co-occurrence (its own counts equal to baseline_next_item's), V-SKNN on a worked
 * example and against a brute-force implementation, and the oracle and model adapters.
 */
import { describe, expect, it } from "vitest";
import { buildWorld } from "../../pipeline/data/generator/catalog.ts";
import { planSession, ProcessSampler } from "../../pipeline/data/generator/process.ts";
import { Oracle } from "../../pipeline/data/oracle.ts";
import { buildBaselines } from "../../pipeline/evaluate/baselines.ts";
import type { EvalSession } from "../../pipeline/evaluate/catalog.ts";
import { CooccurrenceRecommender, countTransitions } from "../../pipeline/evaluate/cooccurrence.ts";
import { ModelRecommender } from "../../pipeline/evaluate/model-recommender.ts";
import { OracleRecommender } from "../../pipeline/evaluate/oracle-recommender.ts";
import {
  countItems,
  PopularityRecommender,
  rankByCount,
} from "../../pipeline/evaluate/popularity.ts";
import type { Recommender } from "../../pipeline/evaluate/recommender.ts";
import { SknnRecommender } from "../../pipeline/evaluate/sknn.ts";
import { Rng } from "../../pipeline/prng.ts";

const sessions = (...lists: string[][]): EvalSession[] =>
  lists.map((items, i) => ({ key: `s${i}`, items }));

describe("popularity", () => {
  const train = sessions(["c", "a", "b"], ["b", "a"], ["d", "c"], ["a", "e"]);

  it("ranks by train count, ties by SKU, and skips the prefix's last item", async () => {
    const pop = PopularityRecommender.fromSessions(train);
    // a 3, b 2, c 2, d 1, e 1.
    expect(pop.ranked).toEqual(["a", "b", "c", "d", "e"]);
    expect(await pop.recommend([["x"], ["a"], ["b", "c"]], 3)).toEqual([
      ["a", "b", "c"],
      ["b", "c", "d"],
      ["a", "b", "d"],
    ]);
    const keep = PopularityRecommender.fromSessions(train, { excludeLast: false, name: "pop" });
    expect(keep.name).toBe("pop");
    expect(await keep.recommend([["a"]], 2)).toEqual([["a", "b"]]);
  });

  it("returns every item it knows when k exceeds them", async () => {
    const pop = new PopularityRecommender(
      new Map([
        ["a", 2],
        ["b", 0],
        ["c", 2],
      ]),
    );
    expect(await pop.recommend([[], ["a"]], 20)).toEqual([["a", "c"], ["c"]]);
  });
});

describe("co-occurrence", () => {
  const train = sessions(["a", "b", "c"], ["a", "c"], ["a", "b"], ["b", "d", "a"]);
  const popular = rankByCount(countItems(train)); // a 4, b 3, c 2, d 1

  it("counts direct transitions as baseline_next_item does", () => {
    const rows = countTransitions(train).sort(
      (x, y) => x.sku.localeCompare(y.sku) || x.nextSku.localeCompare(y.nextSku),
    );
    expect(rows).toEqual([
      { sku: "a", nextSku: "b", transitions: 2 },
      { sku: "a", nextSku: "c", transitions: 1 },
      { sku: "b", nextSku: "c", transitions: 1 },
      { sku: "b", nextSku: "d", transitions: 1 },
      { sku: "d", nextSku: "a", transitions: 1 },
    ]);
  });

  it("ranks the last item's successors, ties by SKU, then fills with popularity", async () => {
    const co = new CooccurrenceRecommender(countTransitions(train), popular);
    expect(await co.recommend([["d", "a"], ["a", "b"], ["c"], ["zz"]], 3)).toEqual([
      ["b", "c", "d"],
      ["c", "d", "a"],
      ["a", "b", "d"],
      ["a", "b", "c"],
    ]);
  });

  it("ranks the same from warehouse rows in any order", async () => {
    const rows = countTransitions(train).reverse();
    const a = new CooccurrenceRecommender(rows, popular);
    const b = new CooccurrenceRecommender(countTransitions(train), popular);
    const prefixes = [["a"], ["b"], ["d"], ["c"]];
    expect(await a.recommend(prefixes, 4)).toEqual(await b.recommend(prefixes, 4));
  });
});

describe("V-SKNN on a worked example", () => {
  // Oldest first. Train counts: a..e 2 each, f and g 1: popularity order a b c d e f g.
  const train = sessions(["a", "b", "c"], ["b", "d"], ["a", "e"], ["c", "d", "e"], ["f", "g"]);

  it("scores items by the similarity of the neighbours holding them", async () => {
    const sknn = new SknnRecommender(train);
    // Prefix [a, b]: w(a) = 1/2, w(b) = 2/2. Sessions sharing an item: T0 {a, b} sim 1.5,
    // T1 {b} sim 1, T2 {a} sim 0.5. score(a) = 1.5 + 0.5, score(b) = 1.5 + 1, score(c) = 1.5,
    // score(d) = 1, score(e) = 0.5.
    expect(Object.fromEntries(sknn.scores(["a", "b"]))).toEqual({
      a: 2,
      b: 2.5,
      c: 1.5,
      d: 1,
      e: 0.5,
    });
    // b is the last item; f and g fill by popularity.
    expect(await sknn.recommend([["a", "b"]], 10)).toEqual([["a", "c", "d", "e", "f", "g"]]);
  });

  it("gives a repeated item the weight of its latest position", () => {
    const sknn = new SknnRecommender(train);
    // [a, b, a]: w(a) = 3/3, w(b) = 2/3. T0 = 5/3, T1 = 2/3, T2 = 1.
    const scores = sknn.scores(["a", "b", "a"]);
    expect(scores.get("a")).toBeCloseTo(5 / 3 + 1, 12);
    expect(scores.get("b")).toBeCloseTo(5 / 3 + 2 / 3, 12);
    expect(scores.get("c")).toBeCloseTo(5 / 3, 12);
    expect(scores.get("d")).toBeCloseTo(2 / 3, 12);
    expect(scores.get("e")).toBeCloseTo(1, 12);
  });

  it("keeps the most similar neighbours, ties to the more recent", async () => {
    const one = new SknnRecommender(train, { neighbours: 1 });
    // [a, b]: T0 (1.5) alone votes; a and c tie at 1.5 and equal train counts: SKU order.
    expect(Object.fromEntries(one.scores(["a", "b"]))).toEqual({ a: 1.5, b: 1.5, c: 1.5 });
    expect(await one.recommend([["a", "b"]], 3)).toEqual([["a", "c", "d"]]);
    // [d]: T1 and T3 both have sim 1; T3 is more recent and wins.
    expect(Object.fromEntries(one.scores(["d"]))).toEqual({ c: 1, d: 1, e: 1 });
    expect(await one.recommend([["d"]], 4)).toEqual([["c", "e", "a", "b"]]);
  });

  it("compares only the most recent candidate sessions", async () => {
    const recent = new SknnRecommender(train, { sampleSize: 2 });
    // [a, b]: candidates T2 (0.5) and T1 (1): a 0.5, e 0.5, b 1, d 1.
    expect(Object.fromEntries(recent.scores(["a", "b"]))).toEqual({
      a: 0.5,
      e: 0.5,
      b: 1,
      d: 1,
    });
    expect(await recent.recommend([["a", "b"]], 6)).toEqual([["d", "a", "e", "c", "f", "g"]]);
  });

  it("ignores unknown SKUs and falls back to popularity when nothing is known", async () => {
    const sknn = new SknnRecommender(train);
    // [zz, a]: w(a) = 2/2; T0 and T2 hold a, sim 1 each.
    expect(Object.fromEntries(sknn.scores(["zz", "a"]))).toEqual({ a: 2, b: 1, c: 1, e: 1 });
    expect(await sknn.recommend([["zz"], []], 3)).toEqual([
      ["a", "b", "c"],
      ["a", "b", "c"],
    ]);
  });

  it("rejects settings that are not positive integers", () => {
    expect(() => new SknnRecommender(train, { neighbours: 0 })).toThrow(/neighbours/);
    expect(() => new SknnRecommender(train, { sampleSize: 1.5 })).toThrow(/sampleSize/);
  });
});

/** V-SKNN written the slow, obvious way: every train session, sorted, from scratch. */
function bruteForce(
  train: readonly EvalSession[],
  prefix: readonly string[],
  k: number,
  neighbours: number,
  sampleSize: number,
): string[] {
  const ranked = rankByCount(countItems(train));
  const popularity = new Map(ranked.map((sku, i) => [sku, i]));
  const weight = new Map<string, number>();
  prefix.forEach((sku, i) => {
    if (popularity.has(sku)) weight.set(sku, (i + 1) / prefix.length);
  });
  const candidates: { s: number; sim: number }[] = [];
  for (let s = train.length - 1; s >= 0 && candidates.length < sampleSize; s--) {
    const items = new Set((train[s] as EvalSession).items);
    let sim = 0;
    for (const sku of items) sim += weight.get(sku) ?? 0;
    if ([...items].some((sku) => weight.has(sku))) candidates.push({ s, sim });
  }
  candidates.sort((x, y) => y.sim - x.sim || y.s - x.s);
  const score = new Map<string, number>();
  for (const { s, sim } of candidates.slice(0, neighbours)) {
    for (const sku of new Set((train[s] as EvalSession).items)) {
      score.set(sku, (score.get(sku) ?? 0) + sim);
    }
  }
  const last = prefix[prefix.length - 1];
  const scored = [...score]
    .filter(([sku]) => sku !== last)
    .sort(
      ([a, x], [b, y]) => y - x || (popularity.get(a) as number) - (popularity.get(b) as number),
    )
    .map(([sku]) => sku);
  for (const sku of ranked) if (sku !== last && !scored.includes(sku)) scored.push(sku);
  return scored.slice(0, k);
}

describe("V-SKNN against brute force", () => {
  it("ranks random sessions exactly as the obvious implementation", async () => {
    const rng = Rng.from(11, 0, 5);
    const sku = () => `sku-${Math.floor(Math.pow(rng.float(), 2) * 40)}`;
    const train = Array.from({ length: 400 }, (_, i) => ({
      key: `t${i}`,
      items: Array.from({ length: 2 + rng.int(6) }, sku),
    }));
    // Prefix lengths are powers of two, so every position weight i/L and every sum of them is
    // exact in binary floating point: ties are real ties in both implementations.
    const prefixes = Array.from({ length: 300 }, () =>
      Array.from({ length: [1, 2, 4, 8][rng.int(4)] as number }, sku),
    );
    prefixes.push(["nowhere", "sku-3"]);
    for (const [neighbours, sampleSize] of [
      [10, 40],
      [100, 500],
      [3, 3],
    ] as const) {
      const sknn = new SknnRecommender(train, { neighbours, sampleSize });
      const got = await sknn.recommend(prefixes, 20);
      prefixes.forEach((prefix, p) => {
        expect(got[p], `prefix ${prefix.join(" ")}`).toEqual(
          bruteForce(train, prefix, 20, neighbours, sampleSize),
        );
      });
    }
  });
});

describe("the stage's baselines", () => {
  it("ranks the same from the dbt tables as from the train sequences", async () => {
    const train = sessions(["a", "b", "c"], ["a", "c"], ["b", "d", "a"], ["c", "a", "b"]);
    const fromSessions = buildBaselines({ train, sknn: { neighbours: 2 } });
    const fromTables = buildBaselines({
      train,
      popularity: countItems(train),
      transitions: countTransitions(train).reverse(),
      sknn: { neighbours: 2 },
    });
    expect(fromSessions.map((r) => `${r.name}:${r.kind}`)).toEqual([
      "popularity:baseline",
      "cooccurrence:baseline",
      "sknn:baseline",
    ]);
    const prefixes = [["a"], ["b", "c"], ["d"], ["x"]];
    for (let i = 0; i < 3; i++) {
      const a = await (fromSessions[i] as Recommender).recommend(prefixes, 3);
      expect(a).toEqual(await (fromTables[i] as Recommender).recommend(prefixes, 3));
      for (const list of a) expect(list).toHaveLength(3);
    }
  });
});

describe("oracle adapter", () => {
  const world = buildWorld(5, 200);
  const oracle = new Oracle(world.model);
  const recommender = new OracleRecommender(oracle);
  const sampler = new ProcessSampler(world.model);
  const block = (() => {
    for (let i = 0; ; i++) {
      const found = planSession(sampler, 5, i).blocks.find((b) => b.items.length >= 4);
      if (found) return found.items.map((item) => oracle.skuOf(item));
    }
  })();

  it("answers the exact forward pass on the process's own prefixes", async () => {
    const prefix = block.slice(0, 3);
    const [list] = await recommender.recommend([prefix], 20);
    expect(list).toEqual(oracle.topK(prefix, 20).map((entry) => entry.sku));
    expect(list).toHaveLength(20);
    expect(recommender.kind).toBe("oracle");
  });

  it("drops what the process cannot emit, and falls back to the prior", async () => {
    const browsable = new Set(world.model.leaves.flatMap((leaf) => leaf.items));
    const never = world.model.skus.find((_, i) => !browsable.has(i)) as string;
    const first = block[0] as string;
    const [unknown, repeated, withNever, prior] = await recommender.recommend(
      [["not-a-sku"], [first, first], [never, first], []],
      20,
    );
    expect(unknown).toEqual(prior);
    expect(prior).toEqual(oracle.topK([], 20).map((entry) => entry.sku));
    expect(repeated).toEqual(oracle.topK([first], 20).map((entry) => entry.sku));
    expect(withNever).toEqual(repeated);
  });
});

describe("model adapter", () => {
  it("passes prefixes and k to the predictor and keeps the SKUs in order", async () => {
    const calls: [readonly (readonly string[])[], number][] = [];
    const predictor = {
      predict: async (sessions: readonly (readonly string[])[], k: number) => {
        calls.push([sessions, k]);
        return sessions.map((s) => ({
          items: [
            { sku: `${s.join("")}-1`, score: 0.9 },
            { sku: `${s.join("")}-2`, score: 0.1 },
          ],
          unknownSkus: 0,
          fallback: false,
        }));
      },
    };
    const model = new ModelRecommender(predictor, "hybrid");
    expect(model.name).toBe("hybrid");
    expect(model.kind).toBe("model");
    expect(await model.recommend([["a"], ["b", "c"]], 2)).toEqual([
      ["a-1", "a-2"],
      ["bc-1", "bc-2"],
    ]);
    expect(calls).toEqual([[[["a"], ["b", "c"]], 2]]);
  });
});
