/**
 * The stages by name, in order, and what each returns: the one list `pipeline run`, the model
 * card and the actions go by. A stage's result is what its record's `result` holds, so
 * `readStageResult` gives it back with its type; it lives apart from the stage functions
 * (run/stages.ts) because the code those call reads results too.
 */
import type { EvaluateResult } from "../evaluate/stage.ts";
import type { PromoteResult } from "../promote/result.ts";
import { readStageRecord, type StageRecord } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { TrainResult } from "../train/train.ts";
import type { TransformResult } from "../transform/result.ts";
import type { UploadResult } from "../upload/upload.ts";

export interface CardResult {
  /** Store keys of the card, the HTML report and (with Chromium) its screenshot. */
  card: string;
  report: string;
  screenshot?: string;
  cardChars: number;
  /** Where to open them: store location + key. */
  paths: { card: string; report: string; screenshot?: string };
  verdict: "passed" | "failed" | "not evaluated";
}

/** The stages in the order `pipeline run` runs them. */
export const STAGE_NAMES = ["upload", "transform", "train", "evaluate", "card", "promote"] as const;

export type StageName = (typeof STAGE_NAMES)[number];

interface ResultTypes {
  upload: UploadResult;
  transform: TransformResult;
  train: TrainResult;
  evaluate: EvaluateResult;
  card: CardResult;
  promote: PromoteResult;
}

/**
 * What each stage returns, by stage name. Mapped over the list so the two cannot drift: a listed
 * stage without a result type fails here, and one not listed fails where run/stages.ts builds
 * its table.
 */
export type StageResults = { [S in StageName]: ResultTypes[S] };

/**
 * A stage's record with its result typed. A failed stage's result is what its StageFailure
 * carried (a gate failure's whole evaluation), or null.
 */
export interface StageResultRecord<S extends StageName> extends StageRecord {
  stage: S;
  result: StageResults[S] | null;
}

export async function readStageResult<S extends StageName>(
  store: ArtifactStore,
  runId: string,
  stage: S,
): Promise<StageResultRecord<S> | undefined> {
  // recordStage wrote this stage's own result (or its failure's) under the stage's name.
  return (await readStageRecord(store, runId, stage)) as StageResultRecord<S> | undefined;
}
