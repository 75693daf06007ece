/**
 * The behavioral suite (in the spirit of RecList): where a recommender fails (slices), how it
 * reacts to inputs it should shrug off (robustness), and how wrong its misses are ("less wrong").
 * These are the pure parts; evaluate.ts runs them against every recommender.
 */
import { categoryDistance, type Catalog } from "./catalog.ts";
import type { Rng } from "../prng.ts";

export const SLICE_FAMILIES = [
  "session_length",
  "last_item_category",
  "target_price_bucket",
  "target_in_train",
] as const;
export type SliceFamily = (typeof SLICE_FAMILIES)[number];

const LENGTH_BUCKETS: readonly [number, string][] = [
  [2, "2"],
  [4, "3-4"],
  [9, "5-9"],
  [19, "10-19"],
];

/** Session-length bucket of a session of `n` items (n ≥ 2: shorter ones hold no prefix). */
export function sessionLengthBucket(n: number): string {
  for (const [max, label] of LENGTH_BUCKETS) if (n <= max) return label;
  return "20+";
}

/**
 * The slice of one prefix → target case in each family: the session's length bucket, the
 * top-level category of the prefix's last item (leaves are too many to read), the target's
 * price bucket and whether the target was seen in train.
 */
export function sliceLabels(
  prefix: readonly string[],
  target: string,
  sessionLength: number,
  catalog: Catalog,
): Record<SliceFamily, string> {
  const last = catalog.get(prefix[prefix.length - 1] as string);
  const item = catalog.get(target);
  return {
    session_length: sessionLengthBucket(sessionLength),
    last_item_category: last?.categoryPath[0] ?? "unknown",
    target_price_bucket: item?.priceBucket == null ? "unknown" : String(item.priceBucket),
    target_in_train: (item?.trainPopularity ?? 0) > 0 ? "seen" : "unseen",
  };
}

/**
 * The prefix with one item, at a random position, replaced by another train-seen item of the
 * same leaf category: a substitution a shopper could as well have made. Null when no position
 * has such an alternative.
 */
export function perturb(prefix: readonly string[], catalog: Catalog, rng: Rng): string[] | null {
  const positions = prefix.map((_, i) => i);
  rng.shuffle(positions);
  for (const at of positions) {
    const original = prefix[at] as string;
    const alternatives = catalog
      .sameLeaf(original)
      .filter((sku) => sku !== original && (catalog.get(sku)?.trainPopularity ?? 0) > 0);
    if (alternatives.length === 0) continue;
    const out = [...prefix];
    out[at] = alternatives[rng.int(alternatives.length)] as string;
    return out;
  }
  return null;
}

/** The prefix in another order (a rotation when the shuffle gave the same), null if it has none. */
export function shufflePrefix(prefix: readonly string[], rng: Rng): string[] | null {
  if (new Set(prefix).size < 2) return null;
  const out = rng.shuffle([...prefix]);
  if (out.every((sku, i) => sku === prefix[i])) out.push(out.shift() as string);
  return out;
}

/** Sessions of 1 to 3 SKUs no catalog holds (deterministic names, checked against the catalog). */
export function unknownSkuSessions(count: number, catalog: Catalog, rng: Rng): string[][] {
  const sessions: string[][] = [];
  let serial = 0;
  const fresh = (): string => {
    for (;;) {
      const sku = `unknown-sku-${(serial++).toString(16).padStart(8, "0")}`;
      if (!catalog.has(sku)) return sku;
    }
  };
  for (let s = 0; s < count; s++) {
    const length = 1 + rng.int(3);
    sessions.push(Array.from({ length }, fresh));
  }
  return sessions;
}

/**
 * Why a list is not k valid recommendations for the prefix, or null when it is: k distinct
 * catalog SKUs (fewer only when the catalog has fewer train-seen items), none from the prefix
 * (the prefix's SKUs are unknown here, so echoing them is not a recommendation).
 */
export function invalidity(
  list: readonly string[],
  prefix: readonly string[],
  k: number,
  catalog: Catalog,
): string | null {
  const need = Math.min(k, catalog.trainItems);
  if (list.length < need) return `${list.length} items, expected ${need}`;
  if (list.length > k) return `${list.length} items, more than k = ${k}`;
  if (new Set(list).size !== list.length) return "duplicate items";
  const bad = list.find((sku) => !catalog.has(sku));
  if (bad !== undefined) return `not a catalog SKU: ${bad}`;
  const echoed = list.find((sku) => prefix.includes(sku));
  if (echoed !== undefined) return `echoes the unknown input SKU ${echoed}`;
  return null;
}

export interface LessWrong {
  /** Top-1 misses with both categories known. */
  n: number;
  /** Top-1 misses where either category is unknown (left out of the figures). */
  unknown: number;
  /** Mean tree distance (edges) between the top-1 and the truth; null when n = 0. */
  meanDistance: number | null;
  /** Share of the misses whose top-1 is in the truth's leaf. */
  sameLeafShare: number | null;
  /** Misses per distance, ascending ("0", "2", "4", …). */
  histogram: Record<string, number>;
}

/** Over the top-1 misses (top1[i] !== target[i]; an empty list counts as nothing to judge). */
export function lessWrong(
  top1: readonly (string | undefined)[],
  targets: readonly string[],
  catalog: Catalog,
): LessWrong {
  const counts = new Map<number, number>();
  let n = 0;
  let unknown = 0;
  let sum = 0;
  top1.forEach((guess, i) => {
    const target = targets[i] as string;
    if (guess === undefined || guess === target) return;
    const distance = categoryDistance(
      catalog.get(guess)?.categoryPath ?? [],
      catalog.get(target)?.categoryPath ?? [],
    );
    if (distance === null) {
      unknown++;
      return;
    }
    n++;
    sum += distance;
    counts.set(distance, (counts.get(distance) ?? 0) + 1);
  });
  const histogram: Record<string, number> = {};
  for (const d of [...counts.keys()].sort((a, b) => a - b)) histogram[d] = counts.get(d) as number;
  return {
    n,
    unknown,
    meanDistance: n > 0 ? sum / n : null,
    sameLeafShare: n > 0 ? (counts.get(0) ?? 0) / n : null,
    histogram,
  };
}
