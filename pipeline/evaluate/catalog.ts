/**
 * What the evaluation knows about items and sessions, in memory: the test sessions and the
 * catalog (category path, price bucket, train popularity per SKU, as `item_catalog` holds them).
 * The stage reads both from the warehouse; everything under pipeline/evaluate works on these.
 */

/** One session's SKUs, oldest first (`session_sequences.items`). */
export interface EvalSession {
  key: string;
  items: string[];
}

/** One `item_catalog` row as the stage reads it. */
export interface CatalogRow {
  sku: string;
  /** Root to leaf: an array, or the '/'-separated `category_path` text; null when unknown. */
  categoryPath: string | readonly string[] | null;
  /** Price decile 1..10, null when unknown. */
  priceBucket: number | null;
  /** Interactions with the SKU in train sequences (0 for SKUs unseen in train). */
  trainPopularity: number;
}

export interface CatalogItem {
  readonly sku: string;
  /** Root to leaf; empty when the category is unknown. */
  readonly categoryPath: readonly string[];
  readonly priceBucket: number | null;
  readonly trainPopularity: number;
  /**
   * Mid-rank percentile of `trainPopularity` among all catalog items, in [0, 1]: the share of
   * items less popular plus half the share equally popular, so ties share one value.
   */
  readonly popularityPercentile: number;
}

function splitPath(path: string | readonly string[] | null): string[] {
  if (path === null) return [];
  const parts = typeof path === "string" ? path.split("/") : [...path];
  return parts.filter((part) => part.length > 0);
}

export class Catalog {
  private readonly items = new Map<string, CatalogItem>();
  private readonly leaves = new Map<string, string[]>();
  /** Catalog items with train popularity > 0. */
  readonly trainItems: number;

  constructor(rows: readonly CatalogRow[]) {
    const counts = rows.map((row) => row.trainPopularity);
    const sorted = Float64Array.from(counts).sort();
    const n = sorted.length;
    // First index with value >= x, by binary search on the sorted counts.
    const lowerBound = (x: number, strict: boolean): number => {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const v = sorted[mid] as number;
        if (v < x || (strict && v === x)) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
    let trainItems = 0;
    // In SKU order, whatever order the warehouse returned: the leaves' member lists (which the
    // robustness suite draws same-category swaps from) must not depend on a scan order.
    const ordered = [...rows].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
    for (const row of ordered) {
      if (this.items.has(row.sku)) throw new Error(`catalog: SKU ${row.sku} appears twice`);
      const below = lowerBound(row.trainPopularity, false);
      const equal = lowerBound(row.trainPopularity, true) - below;
      const categoryPath = splitPath(row.categoryPath);
      this.items.set(row.sku, {
        sku: row.sku,
        categoryPath,
        priceBucket: row.priceBucket,
        trainPopularity: row.trainPopularity,
        popularityPercentile: (below + equal / 2) / n,
      });
      if (row.trainPopularity > 0) trainItems++;
      const leaf = categoryPath.join("/");
      if (leaf) {
        const members = this.leaves.get(leaf);
        if (members) members.push(row.sku);
        else this.leaves.set(leaf, [row.sku]);
      }
    }
    this.trainItems = trainItems;
  }

  get size(): number {
    return this.items.size;
  }

  get(sku: string): CatalogItem | undefined {
    return this.items.get(sku);
  }

  has(sku: string): boolean {
    return this.items.has(sku);
  }

  /** SKUs in the same leaf category as `sku` (itself included), in catalog order. */
  sameLeaf(sku: string): readonly string[] {
    const item = this.items.get(sku);
    if (!item || item.categoryPath.length === 0) return [];
    return this.leaves.get(item.categoryPath.join("/")) ?? [];
  }

  /** Every SKU, in catalog order. */
  skus(): IterableIterator<string> {
    return this.items.keys();
  }
}

/**
 * Edges between two items in the category tree (0 = same leaf), or null when either category
 * is unknown. Paths of unequal depth are handled: the distance runs through the deepest shared
 * ancestor; items under different roots are joined through a virtual root above them.
 */
export function categoryDistance(a: readonly string[], b: readonly string[]): number | null {
  if (a.length === 0 || b.length === 0) return null;
  let shared = 0;
  while (shared < a.length && shared < b.length && a[shared] === b[shared]) shared++;
  return a.length - shared + (b.length - shared);
}
