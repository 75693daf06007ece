/**
 * The id-level neighbourhood index the trained recommender serves with: V-SKNN scores and
 * successor counts against plain brute-force implementations on random sessions (repeated
 * items, ids no session holds, ids out of range, a sample smaller than the candidates, ties),
 * a worked tie example, the reused views, and agreement with the SKU-level baselines.
 */
import { describe, expect, it } from "vitest";
import { countTransitions } from "../../pipeline/evaluate/cooccurrence.ts";
import { countItems } from "../../pipeline/evaluate/popularity.ts";
import { SknnRecommender } from "../../pipeline/evaluate/sknn.ts";
import { SessionIndex, type SparseScores } from "../../pipeline/model/neighbours.ts";
import { Rng } from "../../pipeline/prng.ts";
import { Vocabulary } from "../../pipeline/model/vocabulary.ts";

/** V-SKNN the slow, obvious way: every session from the most recent back, sorted, from scratch. */
function bruteSknn(
  sessions: readonly number[][],
  itemCount: number,
  prefix: readonly number[],
  neighbours: number,
  sampleSize: number,
): Map<number, number> {
  const weight = new Map<number, number>();
  prefix.forEach((id, i) => {
    if (Number.isInteger(id) && id >= 0 && id < itemCount) weight.set(id, (i + 1) / prefix.length);
  });
  const candidates: { s: number; sim: number }[] = [];
  for (let s = sessions.length - 1; s >= 0 && candidates.length < sampleSize; s--) {
    const items = new Set(sessions[s]);
    if (![...items].some((id) => weight.has(id))) continue;
    let sim = 0;
    for (const id of items) sim += weight.get(id) ?? 0;
    candidates.push({ s, sim });
  }
  candidates.sort((x, y) => y.sim - x.sim || y.s - x.s);
  const score = new Map<number, number>();
  for (const { s, sim } of candidates.slice(0, neighbours)) {
    for (const id of new Set(sessions[s])) score.set(id, (score.get(id) ?? 0) + sim);
  }
  return score;
}

/** Successors of `item` counted pair by pair, most often first, ties by smaller id. */
function bruteSuccessors(sessions: readonly number[][], item: number): [number, number][] {
  const counts = new Map<number, number>();
  for (const session of sessions) {
    for (let t = 1; t < session.length; t++) {
      if (session[t - 1] === item) {
        const next = session[t] as number;
        counts.set(next, (counts.get(next) ?? 0) + 1);
      }
    }
  }
  return [...counts].sort(([a, na], [b, nb]) => nb - na || a - b);
}

const entries = (view: SparseScores): [number, number][] =>
  Array.from({ length: view.length }, (_, i): [number, number] => [
    view.ids[i] as number,
    view.scores[i] as number,
  ]).sort(([a], [b]) => a - b);

const successorPairs = (index: SessionIndex, item: number): [number, number][] => {
  const { ids, counts, length } = index.successors(item);
  return Array.from({ length }, (_, i) => [ids[i] as number, counts[i] as number]);
};

// Ids 0 and 1 (padding, unknown) and 52..59 are in range but no session holds them.
const ITEM_COUNT = 60;
const rng = Rng.from(23, 0, 7);
const item = (): number => 2 + Math.floor(Math.pow(rng.float(), 2.5) * 50);
const sessions = Array.from({ length: 500 }, () => Array.from({ length: 2 + rng.int(7) }, item));

describe("SessionIndex.sknn", () => {
  it("scores random prefixes exactly as the obvious implementation", () => {
    // Prefix lengths are powers of two, so every position weight i/L and every sum of them is
    // exact in binary floating point: scores compare exactly and ties are real ties.
    const prefixes = Array.from({ length: 200 }, () =>
      Array.from({ length: [1, 2, 4, 8][rng.int(4)] as number }, item),
    );
    prefixes.push(
      [5, 9, 5, 9], // repeated items keep their latest position's weight
      [3, 3, 3, 3],
      [0, 1, 55, 2], // ids no session holds still count in L
      [-1, ITEM_COUNT, 2.5, 4], // ids out of range or not integers are ignored
      [0, 1],
      [],
    );
    for (const [neighbours, sampleSize] of [
      [10, 40],
      [100, 500],
      [3, 3],
      [5, 1000],
      [1, 1],
    ] as const) {
      const index = new SessionIndex(sessions, ITEM_COUNT, { neighbours, sampleSize });
      for (const prefix of prefixes) {
        const want = [...bruteSknn(sessions, ITEM_COUNT, prefix, neighbours, sampleSize)].sort(
          ([a], [b]) => a - b,
        );
        expect(entries(index.sknn(prefix)), `${neighbours}/${sampleSize}: ${prefix}`).toEqual(want);
      }
    }
  });

  it("keeps the most recent of equally similar sessions, and only the sampled ones", () => {
    const tied = [[2, 3], [2, 4], [2, 5], [6]];
    // Sessions 0..2 all have sim 1 with [2]: the two most recent vote.
    const two = new SessionIndex(tied, 7, { neighbours: 2 });
    expect(entries(two.sknn([2]))).toEqual([
      [2, 2],
      [4, 1],
      [5, 1],
    ]);
    // Only the most recent session sharing an item is compared at all.
    const one = new SessionIndex(tied, 7, { sampleSize: 1 });
    expect(entries(one.sknn([3, 2]))).toEqual([
      [2, 1],
      [5, 1],
    ]);
    expect(one.sknn([0, 1]).length).toBe(0);
  });

  it("reuses one view and its buffers across calls", () => {
    const index = new SessionIndex(sessions, ITEM_COUNT);
    const first = index.sknn([2, 3]);
    const firstEntries = entries(first);
    const second = index.sknn([7]);
    expect(second).toBe(first);
    expect(second.ids).toBe(first.ids);
    expect(second.scores).toBe(first.scores);
    expect(entries(second)).toEqual(
      [...bruteSknn(sessions, ITEM_COUNT, [7], 100, 500)].sort(([a], [b]) => a - b),
    );
    expect(entries(index.sknn([2, 3]))).toEqual(firstEntries);
    expect(index.sknn([]).length).toBe(0);
  });

  it("ranks a view's best ids, ties by smaller id", () => {
    const index = new SessionIndex(sessions, ITEM_COUNT, { neighbours: 20 });
    for (const prefix of [[2], [4, 9], [11, 3, 2, 8], [5, 5]]) {
      const view = index.sknn(prefix);
      const want = entries(view)
        .sort(([a, x], [b, y]) => y - x || a - b)
        .map(([id]) => id);
      for (const count of [1, 5, view.length, view.length + 3]) {
        expect(index.top(view, count)).toEqual(want.slice(0, count));
      }
    }
  });

  it("rejects bad settings and ids outside the item range", () => {
    expect(() => new SessionIndex(sessions, ITEM_COUNT, { neighbours: 0 })).toThrow(/neighbours/);
    expect(() => new SessionIndex(sessions, ITEM_COUNT, { sampleSize: 1.5 })).toThrow(/sampleSize/);
    expect(() => new SessionIndex(sessions, -1)).toThrow(/itemCount/);
    expect(() => new SessionIndex([[2, 3]], 3)).toThrow(/session 0 holds id 3/);
    expect(() => new SessionIndex([[2, 0.5]], 3)).toThrow(RangeError);
  });
});

describe("SessionIndex.successors", () => {
  const index = new SessionIndex(sessions, ITEM_COUNT);

  it("counts every adjacent pair, most often first, ties by smaller id", () => {
    for (let id = 0; id < ITEM_COUNT; id++) {
      expect(successorPairs(index, id), `item ${id}`).toEqual(bruteSuccessors(sessions, id));
    }
    for (const outside of [-1, ITEM_COUNT, 2.5]) expect(index.successors(outside).length).toBe(0);
    // Repeats count once per occurrence, self-transitions included.
    const small = new SessionIndex(
      [
        [2, 3, 2, 3],
        [2, 2, 4],
        [4, 2],
      ],
      5,
    );
    expect(successorPairs(small, 2)).toEqual([
      [3, 2],
      [2, 1],
      [4, 1],
    ]);
    expect(successorPairs(small, 0)).toEqual([]);
  });

  it("holds the baseline_next_item counts", () => {
    const skus = sessions.map((items, i) => ({ key: `s${i}`, items: items.map((id) => `i${id}`) }));
    const want = countTransitions(skus)
      .map(({ sku, nextSku, transitions }) => `${sku}>${nextSku}:${transitions}`)
      .sort();
    const got: string[] = [];
    for (let id = 0; id < ITEM_COUNT; id++) {
      for (const [next, n] of successorPairs(index, id)) got.push(`i${id}>i${next}:${n}`);
    }
    expect(got.sort()).toEqual(want);
  });

  it("answers views into its own arrays, without copying", () => {
    const a = index.successors(2);
    const b = index.successors(3);
    expect(a.ids.buffer).toBe(b.ids.buffer);
    expect(a.counts.buffer).toBe(b.counts.buffer);
    expect(a.length).toBe(a.ids.length);
  });
});

describe("SessionIndex and the SKU-level baseline", () => {
  it("scores vocabulary ids as SknnRecommender scores SKUs", () => {
    const train = sessions.map((items, i) => ({
      key: `s${i}`,
      items: items.map((id) => `i${id}`),
    }));
    const vocabulary = Vocabulary.fromCounts(countItems(train));
    const index = new SessionIndex(
      train.map((s) => vocabulary.encode(s.items)),
      vocabulary.size,
      { neighbours: 15, sampleSize: 60 },
    );
    const baseline = new SknnRecommender(train, { neighbours: 15, sampleSize: 60 });
    for (const prefix of [["i2"], ["i7", "nowhere", "i3"], ["i4", "i4", "i9"], ["nowhere"]]) {
      const view = index.sknn(vocabulary.encode(prefix));
      const fromIds = new Map(
        entries(view).map(([id, score]) => [vocabulary.sku(id) as string, score]),
      );
      expect(fromIds).toEqual(baseline.scores(prefix));
    }
  });
});
