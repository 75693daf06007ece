/**
 * The synthetic world: a 3-level category tree, the catalog of SKUs placed in its leaves, a
 * heavy-tailed popularity, the sparse related-items graph, and the content that
 * sku_to_content.csv shows (vectors, price buckets). The parts the generating process uses are
 * returned as the GenerativeModel; the rest (what only decorates files) as CatalogInfo.
 *
 * Everything here depends only on (seed, skus), never on the session count, so the same catalog
 * and oracle come back whether 2,000 or 1,000,000 sessions are drawn from it.
 */
import type { GenerativeModel, LeafCategory, RelatedItems } from "../oracle.ts";
import { floatListField } from "./format.ts";
import { stableHash } from "./hashes.ts";
import { Rng, seedWords } from "../../prng.ts";

/** Stream ids for Rng.from, one per purpose so they never share draws. */
export const STREAM = { catalog: 1, content: 2, process: 3, decorate: 4 } as const;

export const WORLD_PARAMS = {
  /** About one leaf (hidden intent state) per this many SKUs: the oracle's state space. */
  skusPerLeaf: 100,
  minLeaves: 3,
  maxLeaves: 256,
  minItemsPerLeaf: 3,
  /** Leaf sizes vary lognormally: a few big categories, many small ones. */
  leafSizeSigma: 0.8,
  /** Share of the catalog the process can emit; the rest are catalog rows never browsed. */
  browsableShare: 0.88,
  /** Zipf exponent of global item popularity over a random ranking. */
  popularityExponent: 0.75,
  /** Share of catalog rows with content (vectors, category, price), as in the real file (~48%). */
  metadataShare: 0.48,
  related: {
    minDegree: 4,
    meanExtraDegree: 12,
    maxDegree: 40,
    /** Where neighbours come from: the same leaf, the same top-level group, anywhere. */
    sameLeaf: 0.55,
    sameGroup: 0.3,
    /** Weight of the r-th drawn neighbour ∝ (r + 1)^-exponent, jittered. */
    weightExponent: 0.6,
  },
  intent: { stay: 0.8, switchWithinGroup: 0.12 },
  emission: { related: 0.45, popularity: 0.4, revisit: 0.15 },
  vectorDimension: 50,
  /** Non-product pages (home, listings, cart...) that pageviews without a SKU point at. */
  pagePool: 5000,
} as const;

export const MIN_SKUS = 10;

export interface CatalogInfo {
  seed: number;
  skus: string[];
  /** Leaf of each item; every catalog SKU has one, browsable or not. */
  itemLeaf: Int32Array;
  browsable: Uint8Array;
  leafPath: string[];
  leafMid: Int32Array;
  hasMetadata: Uint8Array;
  priceBucket: Uint8Array;
  productUrl: string[];
  pageUrl: string[];
  /** Cumulative Zipf weights over pageUrl. */
  pageCumulative: Float64Array;
  /** Browsable items and their cumulative popularity: carts from earlier visits draw here. */
  popularItems: Int32Array;
  popularCumulative: Float64Array;
  /** Row-major centroids: leaves drive description and query vectors, mid categories images. */
  leafCentroid: Float64Array;
  midCentroid: Float64Array;
}

export interface World {
  model: GenerativeModel;
  catalog: CatalogInfo;
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, value));
}

function cumulative(weights: ArrayLike<number>): Float64Array {
  const out = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) {
    sum += weights[i] as number;
    out[i] = sum;
  }
  return out;
}

export function buildWorld(seed: number, skus: number): World {
  const P = WORLD_PARAMS;
  const [lo, hi] = seedWords(seed);
  const rng = Rng.from(lo, hi, STREAM.catalog);

  // The tree: leaves under mids under tops. Every top and mid gets at least one child.
  const leaves = clamp(Math.round(skus / P.skusPerLeaf), P.minLeaves, P.maxLeaves);
  const tops = clamp(Math.round(Math.cbrt(leaves) * 1.2), 2, 12);
  const mids = clamp(Math.round(leaves / 3), tops, leaves);
  const midTop = new Int32Array(mids);
  for (let m = 0; m < mids; m++) midTop[m] = m < tops ? m : rng.int(tops);
  const leafMid = new Int32Array(leaves);
  for (let c = 0; c < leaves; c++) leafMid[c] = c < mids ? c : rng.int(mids);
  const nodeHash = (node: number): string => stableHash(seed, "category", node);
  const leafPath: string[] = [];
  const leafGroup = new Int32Array(leaves);
  for (let c = 0; c < leaves; c++) {
    const m = leafMid[c] as number;
    const t = midTop[m] as number;
    leafGroup[c] = t;
    leafPath.push(`${nodeHash(t)}/${nodeHash(tops + m)}/${nodeHash(tops + mids + c)}`);
  }

  // Items to leaves: a guaranteed minimum per leaf, the rest by lognormal leaf size, shuffled so
  // item indices carry no information about category.
  const sizeWeight = new Float64Array(leaves);
  for (let c = 0; c < leaves; c++) sizeWeight[c] = Math.exp(P.leafSizeSigma * rng.normal());
  const sizeCumulative = cumulative(sizeWeight);
  const labels: number[] = [];
  for (let c = 0; c < leaves; c++) for (let k = 0; k < P.minItemsPerLeaf; k++) labels.push(c);
  while (labels.length < skus) labels.push(rng.pickCumulative(sizeCumulative));
  rng.shuffle(labels);
  const itemLeaf = Int32Array.from(labels);

  // Browsable items, at least two per leaf so a leaf can always emit something other than x_t.
  const browsable = new Uint8Array(skus);
  const browsableInLeaf = new Int32Array(leaves);
  for (let i = 0; i < skus; i++) {
    if (rng.chance(P.browsableShare)) {
      const c = itemLeaf[i] as number;
      browsable[i] = 1;
      browsableInLeaf[c] = (browsableInLeaf[c] as number) + 1;
    }
  }
  for (let i = 0; i < skus; i++) {
    const c = itemLeaf[i] as number;
    if (!browsable[i] && (browsableInLeaf[c] as number) < 2) {
      browsable[i] = 1;
      browsableInLeaf[c] = (browsableInLeaf[c] as number) + 1;
    }
  }

  // Zipf popularity over a random ranking of the browsable items.
  const ranked: number[] = [];
  for (let i = 0; i < skus; i++) if (browsable[i]) ranked.push(i);
  rng.shuffle(ranked);
  const popularity = new Float64Array(skus);
  ranked.forEach((item, r) => {
    popularity[item] = Math.pow(r + 1, -P.popularityExponent);
  });
  let totalPopularity = 0;
  for (const item of ranked) totalPopularity += popularity[item] as number;

  const leafItems: number[][] = Array.from({ length: leaves }, () => []);
  for (let i = 0; i < skus; i++)
    if (browsable[i]) (leafItems[itemLeaf[i] as number] as number[]).push(i);
  const byPopularity = (a: number, b: number): number =>
    (popularity[b] as number) - (popularity[a] as number) || a - b;
  const leafModels: LeafCategory[] = leafItems.map((items, c) => {
    items.sort(byPopularity);
    let mass = 0;
    for (const item of items) mass += popularity[item] as number;
    return {
      category: leafPath[c] as string,
      group: leafGroup[c] as number,
      initial: mass / totalPopularity,
      items,
      probabilities: items.map((item) => (popularity[item] as number) / mass),
    };
  });

  const related = buildRelatedGraph(rng, skus, itemLeaf, leafGroup, leafItems, popularity);

  const skuHashes: string[] = [];
  const productUrl: string[] = [];
  for (let i = 0; i < skus; i++) {
    skuHashes.push(stableHash(seed, "sku", i));
    productUrl.push(stableHash(seed, "product-url", i));
  }
  const pageUrl: string[] = [];
  const pageWeight = new Float64Array(P.pagePool);
  for (let k = 0; k < P.pagePool; k++) {
    pageUrl.push(stableHash(seed, "page-url", k));
    pageWeight[k] = 1 / (k + 1);
  }

  const hasMetadata = new Uint8Array(skus);
  const priceBucket = new Uint8Array(skus);
  const leafPrice = new Float64Array(leaves);
  for (let c = 0; c < leaves; c++) leafPrice[c] = 1 + rng.int(10);
  for (let i = 0; i < skus; i++) {
    hasMetadata[i] = rng.chance(P.metadataShare) ? 1 : 0;
    const base = leafPrice[itemLeaf[i] as number] as number;
    priceBucket[i] = clamp(Math.round(base + 1.5 * rng.normal()), 1, 10);
  }
  const dim = P.vectorDimension;
  const leafCentroid = new Float64Array(leaves * dim);
  for (let k = 0; k < leafCentroid.length; k++) leafCentroid[k] = 0.3 * rng.normal();
  const midCentroid = new Float64Array(mids * dim);
  for (let k = 0; k < midCentroid.length; k++) midCentroid[k] = 0.3 * rng.normal();

  const popularItems = Int32Array.from(ranked).sort();
  const model: GenerativeModel = {
    format: "coveo-synthetic-hmm",
    version: 1,
    seed,
    skus: skuHashes,
    intent: { ...P.intent },
    emission: { ...P.emission },
    leaves: leafModels,
    related,
  };
  return {
    model,
    catalog: {
      seed,
      skus: skuHashes,
      itemLeaf,
      browsable,
      leafPath,
      leafMid,
      hasMetadata,
      priceBucket,
      productUrl,
      pageUrl,
      pageCumulative: cumulative(pageWeight),
      popularItems,
      popularCumulative: cumulative(Array.from(popularItems, (i) => popularity[i] as number)),
      leafCentroid,
      midCentroid,
    },
  };
}

/**
 * Each browsable item gets a handful of neighbours, mostly from its own leaf and group and drawn
 * by popularity (so popular items are related to many), weighted by a decaying function of the
 * draw order: the transition part of the process is sparse, skewed and category-coherent.
 */
function buildRelatedGraph(
  rng: Rng,
  skus: number,
  itemLeaf: Int32Array,
  leafGroup: Int32Array,
  leafItems: number[][],
  popularity: Float64Array,
): RelatedItems[] {
  const P = WORLD_PARAMS.related;
  const pool = (items: number[]): { items: number[]; cumulative: Float64Array } => ({
    items,
    cumulative: cumulative(items.map((i) => popularity[i] as number)),
  });
  const leafPools = leafItems.map(pool);
  const groupMembers: number[][] = [];
  leafItems.forEach((items, c) => {
    const g = leafGroup[c] as number;
    while (groupMembers.length <= g) groupMembers.push([]);
    (groupMembers[g] as number[]).push(...items);
  });
  const groupPools = groupMembers.map(pool);
  const globalPool = pool(leafItems.flat());
  const browsableCount = globalPool.items.length;

  const graph: RelatedItems[] = [];
  for (let i = 0; i < skus; i++) {
    const c = itemLeaf[i] as number;
    if (!(popularity[i] as number)) {
      graph.push({ items: [], probabilities: [] });
      continue;
    }
    const degree = Math.min(
      P.maxDegree,
      browsableCount - 1,
      P.minDegree + Math.floor(rng.exponential(P.meanExtraDegree)),
    );
    const chosen: number[] = [];
    for (let attempt = 0; chosen.length < degree && attempt < 30 * degree; attempt++) {
      const u = rng.float();
      const source =
        u < P.sameLeaf
          ? (leafPools[c] as typeof globalPool)
          : u < P.sameLeaf + P.sameGroup
            ? (groupPools[leafGroup[c] as number] as typeof globalPool)
            : globalPool;
      const j = source.items[rng.pickCumulative(source.cumulative)] as number;
      if (j !== i && !chosen.includes(j)) chosen.push(j);
    }
    if (chosen.length === 0) chosen.push(globalPool.items.find((j) => j !== i) as number);
    const weights = chosen.map((_, r) => Math.pow(r + 1, -P.weightExponent) * (0.5 + rng.float()));
    const total = weights.reduce((a, b) => a + b, 0);
    const order = chosen.map((_, r) => r);
    order.sort((a, b) => (weights[b] as number) - (weights[a] as number) || a - b);
    graph.push({
      items: order.map((r) => chosen[r] as number),
      probabilities: order.map((r) => (weights[r] as number) / total),
    });
  }
  return graph;
}

/** sku_to_content.csv rows (no header), in catalog order, from their own stream. */
export function* catalogRows(world: World): Generator<string> {
  const { catalog } = world;
  const [lo, hi] = seedWords(catalog.seed);
  const rng = Rng.from(lo, hi, STREAM.content);
  const dim = WORLD_PARAMS.vectorDimension;
  const description = new Float64Array(dim);
  const image = new Float64Array(dim);
  for (let i = 0; i < catalog.skus.length; i++) {
    const sku = catalog.skus[i] as string;
    if (!catalog.hasMetadata[i]) {
      yield `${sku},,,,\n`;
      continue;
    }
    const leaf = catalog.itemLeaf[i] as number;
    const mid = catalog.leafMid[leaf] as number;
    for (let k = 0; k < dim; k++) {
      description[k] = (catalog.leafCentroid[leaf * dim + k] as number) + 0.15 * rng.normal();
      image[k] = (catalog.midCentroid[mid * dim + k] as number) + 0.2 * rng.normal();
    }
    yield `${sku},${floatListField(description)},${catalog.leafPath[leaf]},${floatListField(image)},${catalog.priceBucket[i]}.0\n`;
  }
}
