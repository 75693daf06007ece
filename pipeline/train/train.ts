/**
 * The training stage in this process: pick the backend, build the vocabulary from the train
 * split, train with checkpoints in the run store, and write the model artifact to
 * `runs/<id>/train/model/`. The AWS Batch path runs this same function inside its container.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import type { Reporter } from "../reporter.ts";
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import {
  ARTIFACT_FILES,
  saveModelArtifact,
  type ArtifactConfig,
  type TrainingHistory,
} from "./artifact.ts";
import { selectBackend, type BackendSelection } from "./backend.ts";
import { CheckpointStore, fingerprint } from "./checkpoint.ts";
import { buildVocabulary, summarizeDataset, type DatasetSummary } from "./dataset.ts";
import type { ModelConfig } from "./model.ts";
import { trainModel, type TrainingOptions } from "./trainer.ts";

/** The artifact's folder in the run store. */
export function modelPrefix(runId: string): string {
  return stageKey(runId, "train", "model");
}

export interface TrainResult {
  backend: Pick<BackendSelection, "name" | "reason" | "skipped" | "threads">;
  compute: "local" | "batch";
  dataset: DatasetSummary;
  model: ModelConfig;
  training: TrainingOptions;
  history: TrainingHistory;
  /** Validation HR@20 of the kept (best) epoch. */
  bestValidationHr20: number;
  epochsRun: number;
  resumedFromEpoch: number;
  seconds: number;
  /** Store keys of the artifact's files. */
  artifact: { prefix: string; files: string[] };
}

export interface LocalTrainInput {
  config: Config;
  runId: string;
  store: ArtifactStore;
  warehouse: Warehouse;
  reporter: Reporter;
  resume: boolean;
}

export function trainingOptions(config: Config): TrainingOptions {
  const t = config.train;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    mode: t.examples,
    loss: t.loss,
    negatives: t.negatives,
    patience: t.patience,
    validationExamples: t.validationExamples,
    shuffleBuffer: 10_000,
  };
}

export async function trainLocally(input: LocalTrainInput): Promise<TrainResult> {
  const { config, reporter, warehouse } = input;
  const started = performance.now();
  const backend = await selectBackend(config.train.backend);
  reporter.info(
    `backend: ${backend.name} (${backend.reason})${backend.skipped.map((s) => `; skipped ${s.name}: ${s.why}`).join("")}`,
  );
  const vocabulary = await buildVocabulary(warehouse, { minCount: config.train.minCount });
  const training = trainingOptions(config);
  const dataset = await summarizeDataset(warehouse, vocabulary, {
    mode: training.mode,
    maxLen: config.model.maxLen,
  });
  reporter.info(
    `dataset: vocabulary ${vocabulary.size} ids, ${dataset.splits.train.kept} train and ${dataset.splits.validation.kept} validation examples (${training.mode})`,
  );
  const model: ModelConfig = {
    ...config.model,
    vocabSize: vocabulary.size,
    seed: config.train.seed,
  };
  if (training.loss === "sampled" && training.negatives >= vocabulary.size - 2) {
    // A vocabulary this small gains nothing from sampling: train on the full softmax.
    training.loss = "full";
  }
  // Epochs and patience may change between a crash and the resume (train longer); nothing else.
  const { epochs: _epochs, patience: _patience, ...shape } = training;
  const print = fingerprint({ model, shape, vocabulary: vocabulary.toJSON(), dataset });
  const checkpoints = new CheckpointStore(
    input.store,
    stageKey(input.runId, "train", "checkpoint"),
  );
  const outcome = await trainModel({
    warehouse,
    vocabulary,
    model,
    options: training,
    reporter,
    trainExamples: dataset.splits.train.kept,
    checkpoints,
    fingerprint: print,
    resume: input.resume,
    excludeLastItem: config.transform.collapseRepeats,
  });

  const artifactConfig: ArtifactConfig = {
    format: "mlops-session-recs/model@1",
    model,
    training: { ...training },
    runId: input.runId,
    backend: backend.name,
    excludeLastItem: config.transform.collapseRepeats,
  };
  const local = await mkdtemp(join(tmpdir(), "mlops-model-"));
  const prefix = modelPrefix(input.runId);
  const files: string[] = [];
  try {
    await saveModelArtifact(local, {
      model: outcome.model,
      vocabulary,
      config: artifactConfig,
      history: outcome.history,
    });
    for (const file of Object.values(ARTIFACT_FILES)) {
      await input.store.putFile(`${prefix}/${file}`, join(local, file));
      files.push(`${prefix}/${file}`);
    }
  } finally {
    await rm(local, { recursive: true, force: true });
    // The model does not own an optimizer it was given as an object: dispose Adam's moments too.
    outcome.model.optimizer?.dispose();
    outcome.model.dispose();
  }
  const best = outcome.history.epochs.find((e) => e.epoch === outcome.history.bestEpoch);
  return {
    backend: {
      name: backend.name,
      reason: backend.reason,
      skipped: backend.skipped,
      ...(backend.threads === undefined ? {} : { threads: backend.threads }),
    },
    compute: "local",
    dataset,
    model,
    training,
    history: outcome.history,
    bestValidationHr20: best?.validationHr20 ?? 0,
    epochsRun: outcome.history.epochs.length,
    resumedFromEpoch: outcome.resumedFromEpoch,
    seconds: (performance.now() - started) / 1000,
    artifact: { prefix, files },
  };
}
