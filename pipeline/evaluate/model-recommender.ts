/** A trained model's predictor (pipeline/model/artifact.ts) as a Recommender. */
import type { ModelArtifact } from "../model/artifact.ts";
import type { Recommender, RecommenderKind } from "./recommender.ts";

export class ModelRecommender implements Recommender {
  constructor(
    private readonly predictor: Pick<ModelArtifact, "predict">,
    readonly name: string,
    readonly kind: RecommenderKind = "model",
  ) {}

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    const predictions = await this.predictor.predict(prefixes, k);
    return predictions.map((prediction) => prediction.items.map((item) => item.sku));
  }
}
