/**
 * What the evaluation ranks with: the trained model, every baseline and the oracle all answer
 * the same question — given the SKUs of a session so far (oldest first), which SKUs come next —
 * so every metric and behavioral test is written once, against this interface.
 */
/**
 * model: a trained model (the candidate, production); ablation: the candidate with a part removed;
 * baseline: popularity, co-occurrence, session-kNN, their blend; oracle: the synthetic data's
 * generating process, the ceiling.
 */
export type RecommenderKind = "model" | "ablation" | "baseline" | "oracle";

/** The name of the candidate without its network (see ModelArtifact.ablation). */
export const ABLATION = "ablation";

export interface Recommender {
  /** Shown in tables: "hybrid", "ablation", "popularity", "cooccurrence", "sknn", "knn-blend", "oracle", "production". */
  readonly name: string;
  readonly kind: RecommenderKind;
  /**
   * The top-k SKUs for each prefix, best first, distinct. Exactly k unless the recommender knows
   * fewer than k items. A prefix may hold SKUs the recommender never saw; it must still answer.
   */
  recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]>;
}
