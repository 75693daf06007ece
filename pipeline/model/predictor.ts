/**
 * A recommender that speaks SKUs: the vocabulary maps a session's SKUs to ids, the blend
 * (./blend.ts) scores every id, and the top k come back as SKUs with their scores. The server,
 * the evaluation and the promotion's smoke test all rank through this one class, whatever the
 * blend holds.
 *
 * SKUs the vocabulary does not know are counted; the network does not read them, the
 * neighbourhood evidence counts them in the session's length (see ./blend.ts). A session with no
 * known SKU gets the k most popular train items, flagged `fallback`.
 */
import type { BlendScorer } from "./blend.ts";
import { FIRST_ITEM_ID, UNKNOWN_ID } from "./sequences.ts";
import { topK } from "./top-k.ts";
import type { Vocabulary } from "./vocabulary.ts";

export interface ScoredSku {
  sku: string;
  score: number;
}

export interface SessionPrediction {
  /** Top-k, best first. */
  items: ScoredSku[];
  /** SKUs of the session the vocabulary does not know (ignored for the prediction). */
  unknownSkus: number;
  /** True when nothing known was left and the popularity ranking was returned instead. */
  fallback: boolean;
}

export class Predictor {
  private readonly topIds: Int32Array;
  private readonly topValues: Float32Array;
  private readonly popular: ScoredSku[];

  constructor(
    readonly vocabulary: Vocabulary,
    private readonly scorer: BlendScorer,
  ) {
    if (scorer.vocabSize !== vocabulary.size) {
      throw new Error(
        `the blend scores ${scorer.vocabSize} ids but the vocabulary has ${vocabulary.size}`,
      );
    }
    this.topIds = new Int32Array(vocabulary.size);
    this.topValues = new Float32Array(vocabulary.size);
    const items = vocabulary.size - FIRST_ITEM_ID;
    let total = 0;
    for (let id = FIRST_ITEM_ID; id < vocabulary.size; id++) {
      total += vocabulary.count(vocabulary.sku(id) as string);
    }
    this.popular = Array.from({ length: items }, (_, i) => {
      const sku = vocabulary.sku(i + FIRST_ITEM_ID) as string;
      return { sku, score: vocabulary.count(sku) / Math.max(total, 1) };
    });
  }

  /** Real items the vocabulary holds: the most any ranking can return. */
  get items(): number {
    return this.vocabulary.size - FIRST_ITEM_ID;
  }

  /**
   * The top k SKUs for each session (oldest SKU first). k is capped at the items that can be
   * recommended.
   */
  predict(sessions: readonly (readonly string[])[], k: number): SessionPrediction[] {
    if (!Number.isInteger(k) || k < 1)
      throw new RangeError(`k must be a positive integer, got ${k}`);
    const top = Math.min(k, this.items);
    const encoded = sessions.map((session) => {
      const ids = this.vocabulary.encode(session);
      let unknownSkus = 0;
      for (const id of ids) if (id === UNKNOWN_ID) unknownSkus++;
      return { ids, unknownSkus };
    });
    // The network scores every session with a known SKU in one call (blocked: cheaper per session).
    const scored = encoded.filter((e) => e.unknownSkus < e.ids.length);
    const logits = scored.length > 0 ? this.scorer.logits(scored.map((e) => e.ids)) : undefined;
    const v = this.vocabulary.size;
    let row = 0;
    return encoded.map(({ ids, unknownSkus }) => {
      if (unknownSkus === ids.length) {
        return { items: this.popular.slice(0, top), unknownSkus, fallback: true };
      }
      const scores = this.scorer.score(ids, logits?.subarray(row * v, (row + 1) * v));
      row++;
      const excluded = this.scorer.excluded(ids);
      const n = topK(scores, 0, scores.length, top, excluded, this.topIds, this.topValues);
      const items: ScoredSku[] = [];
      for (let i = 0; i < n; i++) {
        items.push({
          sku: this.vocabulary.sku(this.topIds[i] as number) as string,
          score: this.topValues[i] as number,
        });
      }
      return { items, unknownSkus, fallback: false };
    });
  }
}
