/**
 * The synthetic generator's oracle as a Recommender: the exact Bayes-optimal next-item ranking
 * under the generating process, so no method can beat its expected hit rate (the ceiling).
 *
 * The behavioral suite feeds it prefixes the process never emits (SKUs it does not know, a
 * perturbed item that is never browsed, a shuffled order that repeats an item back to back).
 * Conditioning on an impossible observation is undefined, so such items are dropped and the
 * forward pass runs on what is left; when even that is impossible, the prior (the empty prefix)
 * answers. On the test split's real prefixes none of this applies and the ranking is exact.
 */
import { ZeroProbabilityPrefixError, type Oracle } from "../data/oracle.ts";
import type { Recommender } from "./recommender.ts";

export class OracleRecommender implements Recommender {
  readonly kind = "oracle" as const;
  private readonly index = new Map<string, number>();

  constructor(
    private readonly oracle: Oracle,
    readonly name = "oracle",
  ) {
    // Only browsable items (those in a leaf) can be emitted, hence observed.
    for (const leaf of oracle.model.leaves) {
      for (const item of leaf.items) this.index.set(oracle.skuOf(item), item);
    }
  }

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    return prefixes.map((prefix) => this.recommendOne(prefix, k));
  }

  private recommendOne(prefix: readonly string[], k: number): string[] {
    const items: number[] = [];
    for (const sku of prefix) {
      const item = this.index.get(sku);
      if (item !== undefined && item !== items[items.length - 1]) items.push(item);
    }
    let top;
    try {
      top = this.oracle.predict(items).topK(k);
    } catch (error) {
      if (!(error instanceof ZeroProbabilityPrefixError)) throw error;
      top = this.oracle.predict([]).topK(k);
    }
    return top.map(({ item }) => this.oracle.skuOf(item));
  }
}
