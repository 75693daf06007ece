/**
 * The metric functions, each over plain arrays so the tests can check them against hand-computed
 * values. Ranks are 1-based positions of the target in a recommendation list, 0 for a miss.
 */
import type { Catalog } from "./catalog.ts";

/** The cut-offs every accuracy figure is given at; lists are requested at the largest. */
export const METRIC_KS = [10, 20] as const;
export const MAX_K = 20;

/** A figure with the number of samples behind it; `value` is null when there were none. */
export interface Figure {
  value: number | null;
  n: number;
  /** Bootstrap percentile interval, where one was computed. */
  ci?: { low: number; high: number; level: number };
}

export function figure(sum: number, n: number): Figure {
  return { value: n > 0 ? sum / n : null, n };
}

/** 1-based position of `target` among the first k of `list`, 0 when it is not there. */
export function rankOf(list: readonly string[], target: string, k: number): number {
  const end = Math.min(k, list.length);
  for (let i = 0; i < end; i++) if (list[i] === target) return i + 1;
  return 0;
}

/** Share of ranks in 1..k. */
export function hitRate(ranks: ArrayLike<number>, k: number): Figure {
  let hits = 0;
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i] as number;
    if (r >= 1 && r <= k) hits++;
  }
  return figure(hits, ranks.length);
}

/** Mean of 1/rank over the ranks in 1..k, a miss counting 0. */
export function meanReciprocalRank(ranks: ArrayLike<number>, k: number): Figure {
  let sum = 0;
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i] as number;
    if (r >= 1 && r <= k) sum += 1 / r;
  }
  return figure(sum, ranks.length);
}

/**
 * Catalog coverage@k: distinct catalog SKUs among the first k of all lists, over the catalog's
 * size. SKUs the catalog does not hold are not counted. `n` is the number of lists.
 */
export function coverage(lists: readonly (readonly string[])[], k: number, catalog: Catalog) {
  const distinct = new Set<string>();
  for (const list of lists) {
    const end = Math.min(k, list.length);
    for (let i = 0; i < end; i++) {
      const sku = list[i] as string;
      if (catalog.has(sku)) distinct.add(sku);
    }
  }
  return { ...figure(distinct.size, catalog.size), n: lists.length, distinct: distinct.size };
}

/**
 * Popularity bias@k: the mean train-popularity percentile (Catalog: mid-rank, in [0, 1]) of the
 * recommended SKUs; 1 means only the most popular items. `n` counts the recommended SKUs the
 * catalog knows (others have no percentile and are left out).
 */
export function popularityBias(
  lists: readonly (readonly string[])[],
  k: number,
  catalog: Catalog,
): Figure {
  let sum = 0;
  let n = 0;
  for (const list of lists) {
    const end = Math.min(k, list.length);
    for (let i = 0; i < end; i++) {
      const item = catalog.get(list[i] as string);
      if (!item) continue;
      sum += item.popularityPercentile;
      n++;
    }
  }
  return figure(sum, n);
}

/** Share of recommended SKUs (first k of each list) that the list's own prefix already holds. */
export function repeatShare(
  prefixes: readonly (readonly string[])[],
  lists: readonly (readonly string[])[],
  k: number,
): Figure {
  let repeats = 0;
  let n = 0;
  lists.forEach((list, p) => {
    const prefix = new Set(prefixes[p]);
    const end = Math.min(k, list.length);
    for (let i = 0; i < end; i++) if (prefix.has(list[i] as string)) repeats++;
    n += end;
  });
  return figure(repeats, n);
}

/** |first k of a ∩ first k of b| / the longer of the two cut lists (1 = same items, any order). */
export function overlap(a: readonly string[], b: readonly string[], k: number): number {
  const cutA = a.slice(0, k);
  const cutB = new Set(b.slice(0, k));
  const size = Math.max(cutA.length, cutB.size);
  if (size === 0) return 1;
  let shared = 0;
  for (const sku of cutA) if (cutB.has(sku)) shared++;
  return shared / size;
}
