/** The trained model's predictor (pipeline/train/artifact.ts) as a Recommender. */
import type { ModelArtifact } from "../train/artifact.ts";
import type { Recommender, RecommenderKind } from "./recommender.ts";

export class ModelRecommender implements Recommender {
  constructor(
    private readonly predictor: Pick<ModelArtifact, "predict">,
    readonly name = "lstm",
    readonly kind: RecommenderKind = "model",
  ) {}

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    const predictions = await this.predictor.predict(prefixes, k);
    return predictions.map((prediction) => prediction.items.map((item) => item.sku));
  }
}
