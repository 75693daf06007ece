/**
 * The three baselines as the evaluation stage builds them: from the dbt baseline tables when
 * the stage read them (so the figures are those of the marts a reviewer can query), else from
 * the train sequences, which hold the same counts.
 */
import type { EvalSession } from "./catalog.ts";
import { CooccurrenceRecommender, countTransitions, type Transition } from "./cooccurrence.ts";
import { countItems, PopularityRecommender } from "./popularity.ts";
import type { Recommender } from "./recommender.ts";
import { SknnRecommender, type SknnOptions } from "./sknn.ts";

export interface BaselineInputs {
  /** Train sequences, oldest first (V-SKNN's neighbours; the counts when no table is given). */
  train: readonly EvalSession[];
  /** `baseline_popularity`: SKU → train_popularity. */
  popularity?: ReadonlyMap<string, number>;
  /** `baseline_next_item` rows. */
  transitions?: readonly Transition[];
  sknn?: SknnOptions;
}

/** popularity, cooccurrence, sknn — in that order. */
export function buildBaselines(inputs: BaselineInputs): Recommender[] {
  const popularity = new PopularityRecommender(inputs.popularity ?? countItems(inputs.train));
  return [
    popularity,
    new CooccurrenceRecommender(
      inputs.transitions ?? countTransitions(inputs.train),
      popularity.ranked,
    ),
    new SknnRecommender(inputs.train, inputs.sknn),
  ];
}
