/**
 * The next-item co-occurrence baseline: after SKU a, recommend the SKUs that most often directly
 * followed a in train (`baseline_next_item`), then the most popular ones to fill k.
 *
 * The trained recommender counts the same successors over vocabulary ids, from the train
 * sessions (SessionIndex.successors, pipeline/model/neighbours.ts). This baseline is built from
 * the mart's rows instead, so its figures are those of the table a reviewer can query, and its
 * ties follow SKU order.
 */
import type { EvalSession } from "./catalog.ts";
import { fillFrom, type BaselineOptions } from "./popularity.ts";
import type { Recommender } from "./recommender.ts";

/** One `baseline_next_item` row. */
export interface Transition {
  sku: string;
  nextSku: string;
  transitions: number;
}

/** Counts of b directly following a, over the sessions (what `baseline_next_item` holds). */
export function countTransitions(sessions: readonly EvalSession[]): Transition[] {
  const counts = new Map<string, Map<string, number>>();
  for (const { items } of sessions) {
    for (let t = 1; t < items.length; t++) {
      const from = items[t - 1] as string;
      const to = items[t] as string;
      let row = counts.get(from);
      if (!row) counts.set(from, (row = new Map()));
      row.set(to, (row.get(to) ?? 0) + 1);
    }
  }
  const out: Transition[] = [];
  for (const [sku, row] of counts) {
    for (const [nextSku, transitions] of row) out.push({ sku, nextSku, transitions });
  }
  return out;
}

export class CooccurrenceRecommender implements Recommender {
  readonly name: string;
  readonly kind = "baseline" as const;
  private readonly next = new Map<string, string[]>();
  private readonly excludeLast: boolean;

  /**
   * @param popular the fallback ranking, most popular first (PopularityRecommender.ranked).
   */
  constructor(
    transitions: Iterable<Transition>,
    private readonly popular: readonly string[],
    options: BaselineOptions = {},
  ) {
    this.name = options.name ?? "cooccurrence";
    this.excludeLast = options.excludeLast ?? true;
    const grouped = new Map<string, [string, number][]>();
    for (const { sku, nextSku, transitions: n } of transitions) {
      if (n <= 0) continue;
      let row = grouped.get(sku);
      if (!row) grouped.set(sku, (row = []));
      row.push([nextSku, n]);
    }
    for (const [sku, row] of grouped) {
      // Most transitions first, ties by SKU, so a ranking never depends on row order.
      row.sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0));
      this.next.set(
        sku,
        row.map(([next]) => next),
      );
    }
  }

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    return prefixes.map((prefix) => {
      const last = prefix[prefix.length - 1];
      const skip = this.excludeLast ? last : undefined;
      const out: string[] = [];
      const taken = new Set<string>();
      if (last !== undefined) fillFrom(out, taken, this.next.get(last) ?? [], k, skip);
      fillFrom(out, taken, this.popular, k, skip);
      return out;
    });
  }
}
