/**
 * The training stage in this process: pick the backend, build the vocabulary from the train
 * split, load the splits, train the network with checkpoints in the run store, fit the blend
 * (the network with the neighbourhood evidence, pipeline/model/blend.ts) on the validation
 * split, and write the model artifact to `runs/<id>/train/model/`. The AWS Batch path runs this
 * same function inside its container.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import {
  ARTIFACT_FILES,
  saveModelArtifact,
  type ArtifactConfig,
  type TrainingHistory,
} from "../model/artifact.ts";
import { describeBlend, type BlendSpec, type ComponentKind } from "../model/blend.ts";
import { fitCases, fitWeights, selectComponents, type FitMetrics } from "../model/fit-blend.ts";
import { NEIGHBOUR_DEFAULTS, SessionIndex } from "../model/neighbours.ts";
import type { NetConfig } from "../model/net.ts";
import { NetRuntime } from "../model/net-runtime.ts";
import { FIRST_ITEM_ID } from "../model/sequences.ts";
import type { Vocabulary } from "../model/vocabulary.ts";
import type { Reporter } from "../reporter.ts";
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { selectBackend, type BackendSelection } from "./backend.ts";
import { countTargets } from "./batches.ts";
import { splitSessions, type SessionBlock } from "../model/sessions.ts";
import { CheckpointStore, fingerprint } from "./checkpoint.ts";
import {
  buildVocabulary,
  loadSplit,
  summarizeSplit,
  SPLITS,
  type DatasetSummary,
} from "./dataset.ts";
import { itemFeatures, readCatalogFacts } from "./item-features.ts";
import { trainModel, type TrainingOptions } from "./trainer.ts";

/** The artifact's folder in the run store. */
export function modelPrefix(runId: string): string {
  return stageKey(runId, "train", "model");
}

/** What the validation split says about the blend and its parts. */
export interface BlendReport {
  spec: BlendSpec;
  /** The blend without the network, fitted the same way (null when the blend is the network). */
  ablation: BlendSpec | null;
  /** HR@20 and MRR@20 on the validation prefixes the weights were fitted on. */
  validation: { candidate: FitMetrics; ablation: FitMetrics | null; network: FitMetrics };
  seconds: number;
}

export interface TrainResult {
  backend: Pick<BackendSelection, "name" | "reason" | "skipped" | "threads">;
  compute: "local" | "batch";
  preset: string;
  dataset: DatasetSummary;
  model: NetConfig;
  /** Distinct item features the network trained with (0: none). */
  itemFeatures: number;
  training: TrainingOptions;
  history: TrainingHistory;
  blend: BlendReport;
  /** Validation HR@20 of the network at the kept (best) epoch. */
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
  const { train: t, model: m } = config;
  return {
    epochs: t.epochs,
    batchSize: t.batchSize,
    mode: t.examples,
    loss: t.loss,
    negatives: t.negatives,
    sampleAlpha: t.sampleAlpha,
    logQ: t.logQ,
    learningRate: m.learningRate,
    dropout: m.dropout,
    popularityBias: t.popularityBias,
    patience: t.patience,
    minImprovement: t.minImprovement,
    validationExamples: t.validationExamples,
  };
}

/** Train interactions per id (0 for padding and unknown). */
function idCounts(vocabulary: Vocabulary): Float64Array {
  const counts = new Float64Array(vocabulary.size);
  for (let id = FIRST_ITEM_ID; id < vocabulary.size; id++) {
    counts[id] = vocabulary.count(vocabulary.sku(id) as string);
  }
  return counts;
}

export async function trainLocally(input: LocalTrainInput): Promise<TrainResult> {
  const { config, reporter, warehouse } = input;
  const started = performance.now();
  const backend = await selectBackend(config.train.backend);
  reporter.info(
    `backend: ${backend.name} (${backend.reason})${backend.skipped.map((s) => `; skipped ${s.name}: ${s.why}`).join("")}`,
  );
  const vocabulary = await buildVocabulary(warehouse, { minCount: config.train.minCount });
  const [train, validation, test] = await Promise.all(
    SPLITS.map((split) => loadSplit(warehouse, vocabulary, { split })),
  );
  const blocks = { train, validation, test } as Record<(typeof SPLITS)[number], SessionBlock>;
  const training = trainingOptions(config);
  const dataset: DatasetSummary = {
    mode: training.mode,
    maxLen: config.model.maxLen,
    vocabularySize: vocabulary.size,
    minCount: vocabulary.minCount,
    trainSkus: vocabulary.trainSkus,
    splits: {
      train: summarizeSplit(blocks.train, training.mode),
      validation: summarizeSplit(blocks.validation, training.mode),
      test: summarizeSplit(blocks.test, training.mode),
    },
  };
  reporter.info(
    `dataset: vocabulary ${vocabulary.size} ids, ${dataset.splits.train.kept} train and ${dataset.splits.validation.kept} validation examples (${training.mode}); preset ${config.model.preset}`,
  );
  const net: NetConfig = {
    cell: config.model.cell,
    vocabSize: vocabulary.size,
    embeddingDim: config.model.embeddingDim,
    hiddenUnits: config.model.hiddenUnits,
    layers: config.model.layers,
    tied: config.model.tied,
    maxLen: config.model.maxLen,
  };
  const counts = idCounts(vocabulary);
  const features = config.model.itemFeatures
    ? itemFeatures(vocabulary, await readCatalogFacts(warehouse))
    : undefined;
  if (features) {
    const described = features.offsets.reduce(
      (n, offset, id) => n + (id > 0 && offset > (features.offsets[id - 1] as number) ? 1 : 0),
      0,
    );
    reporter.info(
      `item features: ${features.count} catalog facts (category levels, price buckets) on ${described} of ${vocabulary.size - FIRST_ITEM_ID} items`,
    );
  }
  const excludeLast = config.transform.collapseRepeats;
  // Epochs and the stopping rule may change between a crash and the resume (train longer); nothing else.
  const { epochs: _epochs, patience: _patience, minImprovement: _gain, ...shape } = training;
  const print = fingerprint({
    net,
    features: features ? [features.count, features.ids.length] : null,
    shape,
    seed: config.train.seed,
    vocabulary: vocabulary.toJSON(),
    dataset,
  });
  const checkpoints = new CheckpointStore(
    input.store,
    stageKey(input.runId, "train", "checkpoint"),
  );
  const outcome = await trainModel({
    net,
    seed: config.train.seed,
    train: blocks.train,
    validation: blocks.validation,
    counts,
    ...(features ? { features } : {}),
    options: training,
    reporter,
    trainTargets: countTargets(blocks.train, {
      mode: training.mode,
      maxLen: net.maxLen,
      batchSize: training.batchSize,
    }),
    checkpoints,
    fingerprint: print,
    resume: input.resume,
    excludeLastItem: excludeLast,
  });

  // The blend's weights, fitted on the validation split with the kept network.
  const blendStarted = performance.now();
  const kinds = config.model.blend.split(",") as ComponentKind[];
  const neighbours = { ...NEIGHBOUR_DEFAULTS };
  const trainSessions = splitSessions(blocks.train);
  const evidence = {
    vocabSize: vocabulary.size,
    net: new NetRuntime(net, outcome.weights),
    ...(kinds.some((k) => k === "sknn" || k === "cooccurrence")
      ? { index: new SessionIndex(trainSessions, vocabulary.size, neighbours) }
      : {}),
  };
  // One set of cases for every fit: the candidate's, the network alone, and without it.
  const cases = fitCases(kinds, evidence, splitSessions(blocks.validation), {
    excludeLast,
    limit: training.validationExamples,
  });
  const fit = (of: readonly ComponentKind[]) =>
    fitWeights(
      of,
      selectComponents(
        cases,
        kinds.length,
        of.map((kind) => kinds.indexOf(kind)),
      ),
    );
  const networkOnly = fit(["neural"]);
  const fitted = kinds.length > 1 ? fit(kinds) : networkOnly;
  const withoutNetwork = kinds.filter((k) => k !== "neural");
  const ablation = withoutNetwork.length > 0 ? fit(withoutNetwork) : null;
  const blend: BlendReport = {
    spec: fitted.spec,
    ablation: ablation?.spec ?? null,
    validation: {
      candidate: fitted.metrics,
      ablation: ablation?.metrics ?? null,
      network: networkOnly.metrics,
    },
    seconds: (performance.now() - blendStarted) / 1000,
  };
  reporter.info(
    `blend fitted on ${fitted.metrics.cases} validation prefixes: ${describeBlend(fitted.spec)} — HR@20 ${fitted.metrics.hr.toFixed(4)}, MRR@20 ${fitted.metrics.mrr.toFixed(4)} (network alone ${networkOnly.metrics.hr.toFixed(4)} / ${networkOnly.metrics.mrr.toFixed(4)}${ablation ? `; without the network ${ablation.metrics.hr.toFixed(4)} / ${ablation.metrics.mrr.toFixed(4)}` : ""})`,
  );

  const artifactConfig: ArtifactConfig = {
    format: "mlops-session-recs/model@2",
    preset: config.model.preset,
    net,
    training: { ...training },
    runId: input.runId,
    backend: backend.name,
    excludeLastItem: excludeLast,
  };
  const local = await mkdtemp(join(tmpdir(), "mlops-model-"));
  const prefix = modelPrefix(input.runId);
  const files: string[] = [];
  try {
    await saveModelArtifact(local, {
      net,
      weights: outcome.weights,
      vocabulary,
      blend: fitted.spec,
      ablation: ablation?.spec ?? null,
      sessions: blocks.train,
      neighbours,
      config: artifactConfig,
      history: outcome.history,
    });
    for (const file of Object.values(ARTIFACT_FILES)) {
      await input.store.putFile(`${prefix}/${file}`, join(local, file));
      files.push(`${prefix}/${file}`);
    }
  } finally {
    await rm(local, { recursive: true, force: true });
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
    preset: config.model.preset,
    dataset,
    model: net,
    itemFeatures: features?.count ?? 0,
    training,
    history: outcome.history,
    blend,
    bestValidationHr20: best?.validationHr20 ?? 0,
    epochsRun: outcome.history.epochs.length,
    resumedFromEpoch: outcome.resumedFromEpoch,
    seconds: (performance.now() - started) / 1000,
    artifact: { prefix, files },
  };
}
