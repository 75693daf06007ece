/**
 * Item side information for the network: each item's catalog facts — every level of its category
 * path and its price bucket — become features with embeddings of their own, added to the item's
 * embedding (the feature-rich item representations of p-RNN, Hidasi et al., RecSys'16, and of
 * most session models since). An item seen a handful of times in train then starts from what its
 * category and price say, instead of from noise: the sparse tail is where a next-item network
 * loses to neighbourhood methods.
 *
 * Only the network's training sees features: the artifact stores each item's embedding with its
 * features' embeddings already added (TrainableNet.exportWeights), so the inference runtime and
 * the artifact's format do not change. Items without catalog facts simply have no features.
 */
import { FIRST_ITEM_ID } from "../model/sequences.ts";
import type { Vocabulary } from "../model/vocabulary.ts";
import { parseItems } from "./dataset.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";

/** Features per vocabulary id (CSR): item id's features are ids[offsets[id] .. offsets[id + 1]). */
export interface ItemFeatures {
  /** Distinct features (the feature embedding's rows). */
  count: number;
  offsets: Int32Array;
  ids: Int32Array;
}

/** The catalog facts of one SKU, as `item_catalog` holds them. */
export interface CatalogFacts {
  categoryPath: string | readonly string[] | null;
  priceBucket: number | null;
}

/** "c:a", "c:a/b", "c:a/b/c" for a path a/b/c (every level), and "p:7" for price bucket 7. */
function tokens(facts: CatalogFacts): string[] {
  const out: string[] = [];
  const path =
    facts.categoryPath === null
      ? []
      : typeof facts.categoryPath === "string"
        ? facts.categoryPath.split("/")
        : [...facts.categoryPath];
  const levels = path.filter((part) => part.length > 0);
  for (let depth = 1; depth <= levels.length; depth++) {
    out.push(`c:${levels.slice(0, depth).join("/")}`);
  }
  if (facts.priceBucket !== null && Number.isFinite(facts.priceBucket)) {
    out.push(`p:${Math.round(facts.priceBucket)}`);
  }
  return out;
}

/**
 * The features of the vocabulary's items from their catalog facts (SKUs missing from `facts`
 * have none). Feature ids follow first appearance in id order, so the same vocabulary and catalog
 * give the same ids.
 */
export function itemFeatures(
  vocabulary: Vocabulary,
  facts: ReadonlyMap<string, CatalogFacts>,
): ItemFeatures {
  const featureIds = new Map<string, number>();
  const offsets = new Int32Array(vocabulary.size + 1);
  const ids: number[] = [];
  for (let id = 0; id < vocabulary.size; id++) {
    offsets[id] = ids.length;
    const sku = id >= FIRST_ITEM_ID ? vocabulary.sku(id) : undefined;
    const known = sku === undefined ? undefined : facts.get(sku);
    for (const token of known ? tokens(known) : []) {
      let feature = featureIds.get(token);
      if (feature === undefined) featureIds.set(token, (feature = featureIds.size));
      ids.push(feature);
    }
  }
  offsets[vocabulary.size] = ids.length;
  return { count: featureIds.size, offsets, ids: Int32Array.from(ids) };
}

/** The catalog facts of every SKU the `item_catalog` mart holds. */
export async function readCatalogFacts(warehouse: Warehouse): Promise<Map<string, CatalogFacts>> {
  const rows = await warehouse.query("select sku, category_path, price_bucket from item_catalog");
  return new Map(
    rows.map((r) => {
      const path = r.category_path;
      return [
        String(r.sku),
        {
          // Snowflake's driver may hand an ARRAY back; DuckDB a '/'-separated text.
          categoryPath:
            path === null || path === undefined
              ? null
              : typeof path === "string" && !path.startsWith("[")
                ? path
                : parseItems(path, String(r.sku)),
          priceBucket: r.price_bucket === null ? null : Number(r.price_bucket),
        },
      ];
    }),
  );
}

/**
 * For a list of item ids: the flat feature ids of all of them and, for each, the index of the
 * item it belongs to (the segments of a sum).
 */
export function featuresOf(
  features: ItemFeatures,
  items: ArrayLike<number>,
): { ids: Int32Array; segments: Int32Array } {
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    const id = items[i] as number;
    total += (features.offsets[id + 1] as number) - (features.offsets[id] as number);
  }
  const ids = new Int32Array(total);
  const segments = new Int32Array(total);
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    const id = items[i] as number;
    for (let f = features.offsets[id] as number; f < (features.offsets[id + 1] as number); f++) {
      ids[at] = features.ids[f] as number;
      segments[at++] = i;
    }
  }
  return { ids, segments };
}
