/**
 * The V-SKNN baseline (Ludewig & Jannach 2018) over SKUs: the neighbourhood scoring is the
 * model's own SessionIndex (pipeline/model/neighbours.ts, where the algorithm is described), so
 * the baseline and the evidence the trained recommender serves with are one implementation.
 * This adapter gives SKUs dense ids by train popularity (0 = most popular), which makes the
 * index's id order the tie-break: the top k by score, ties by train popularity, then SKU,
 * filled with the most popular SKUs when fewer than k items scored.
 */
import { SessionIndex, type NeighbourOptions } from "../model/neighbours.ts";
import type { EvalSession } from "./catalog.ts";
import { countItems, fillFrom, rankByCount, type BaselineOptions } from "./popularity.ts";
import type { Recommender } from "./recommender.ts";

export type SknnOptions = BaselineOptions & NeighbourOptions;

export class SknnRecommender implements Recommender {
  readonly name: string;
  readonly kind = "baseline" as const;
  readonly neighbours: number;
  readonly sampleSize: number;
  private readonly excludeLast: boolean;

  /** Item id → SKU; ids follow train popularity (0 = most popular), so id order breaks ties. */
  private readonly skus: string[];
  private readonly ids = new Map<string, number>();
  private readonly index: SessionIndex;

  /** @param train train sessions, oldest first (by session start). */
  constructor(train: readonly EvalSession[], options: SknnOptions = {}) {
    this.name = options.name ?? "sknn";
    this.excludeLast = options.excludeLast ?? true;
    this.skus = rankByCount(countItems(train));
    this.skus.forEach((sku, id) => this.ids.set(sku, id));
    this.index = new SessionIndex(
      train.map((session) => this.encode(session.items)),
      this.skus.length,
      options,
    );
    this.neighbours = this.index.neighbours;
    this.sampleSize = this.index.sampleSize;
  }

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    return prefixes.map((prefix) => this.recommendOne(prefix, k));
  }

  /** The scores of the items the neighbours of `prefix` hold (for tests and explanations). */
  scores(prefix: readonly string[]): Map<string, number> {
    const { ids, scores, length } = this.index.sknn(this.encode(prefix));
    const out = new Map<string, number>();
    for (let i = 0; i < length; i++) {
      out.set(this.skus[ids[i] as number] as string, scores[i] as number);
    }
    return out;
  }

  private recommendOne(prefix: readonly string[], k: number): string[] {
    const last = prefix[prefix.length - 1];
    const skip = this.excludeLast ? last : undefined;
    // One more than k, in case the skipped item is among the best.
    const best = this.index.top(this.index.sknn(this.encode(prefix)), k + 1);
    const out: string[] = [];
    const taken = new Set<string>();
    for (let i = 0; i < best.length && out.length < k; i++) {
      const sku = this.skus[best[i] as number] as string;
      if (sku === skip) continue;
      taken.add(sku);
      out.push(sku);
    }
    fillFrom(out, taken, this.skus, k, skip);
    return out;
  }

  /** SKUs as ids; an SKU train never saw gets -1, which the index ignores (keeping L). */
  private encode(skus: readonly string[]): number[] {
    return skus.map((sku) => this.ids.get(sku) ?? -1);
  }
}
