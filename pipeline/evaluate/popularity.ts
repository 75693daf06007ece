/**
 * The popularity baseline, and the ranking every other baseline falls back on to fill k.
 *
 * The sequences are collapsed (dbt merges consecutive interactions with one SKU into one step),
 * so the next item is never the prefix's last item. Every baseline skips that item by default:
 * a rule any model learns from the data in its first epoch, which a baseline should not lose on.
 */
import type { EvalSession } from "./catalog.ts";
import type { Recommender } from "./recommender.ts";

export interface BaselineOptions {
  /** Shown in tables. */
  name?: string;
  /** Never recommend the prefix's last SKU (default true; see above). */
  excludeLast?: boolean;
}

/** Interactions per SKU over the sessions (each occurrence counts, as `train_popularity` does). */
export function countItems(sessions: readonly EvalSession[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const session of sessions) {
    for (const sku of session.items) counts.set(sku, (counts.get(sku) ?? 0) + 1);
  }
  return counts;
}

/** SKUs with a positive count, most frequent first, ties by SKU (as `baseline_popularity`). */
export function rankByCount(counts: ReadonlyMap<string, number>): string[] {
  const kept = [...counts].filter(([, n]) => n > 0);
  kept.sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0));
  return kept.map(([sku]) => sku);
}

/**
 * Appends SKUs of `ranked` to `out` until it holds k, skipping `skip` and what `out` already
 * holds (`taken` mirrors `out` as a set and is updated).
 */
export function fillFrom(
  out: string[],
  taken: Set<string>,
  ranked: readonly string[],
  k: number,
  skip: string | undefined,
): void {
  for (let i = 0; i < ranked.length && out.length < k; i++) {
    const sku = ranked[i] as string;
    if (sku === skip || taken.has(sku)) continue;
    taken.add(sku);
    out.push(sku);
  }
}

export class PopularityRecommender implements Recommender {
  readonly name: string;
  readonly kind = "baseline" as const;
  /** Most popular first. */
  readonly ranked: readonly string[];
  private readonly excludeLast: boolean;

  constructor(counts: ReadonlyMap<string, number>, options: BaselineOptions = {}) {
    this.name = options.name ?? "popularity";
    this.excludeLast = options.excludeLast ?? true;
    this.ranked = rankByCount(counts);
  }

  static fromSessions(sessions: readonly EvalSession[], options?: BaselineOptions) {
    return new PopularityRecommender(countItems(sessions), options);
  }

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    return prefixes.map((prefix) => {
      const out: string[] = [];
      const skip = this.excludeLast ? prefix[prefix.length - 1] : undefined;
      fillFrom(out, new Set(), this.ranked, k, skip);
      return out;
    });
  }
}
