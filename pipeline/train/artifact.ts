/**
 * The trained model as a folder, laid out for SageMaker's `/opt/ml/model`:
 *
 *   model.json        tfjs topology + weights manifest (tf.loadLayersModel reads it)
 *   weights.bin       the weights, one shard
 *   vocabulary.json   SKU ↔ id and train counts (the server maps request SKUs with it)
 *   model-config.json ModelConfig and the training settings that made it
 *   history.json      per-epoch loss and validation HR@20
 *
 * `loadModelArtifact` gives back a predictor that speaks SKUs, so the evaluation, the server and
 * the promotion's smoke test all rank through the same code.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { PipelineError } from "../errors.ts";
import { validateModelConfig, topK, type ModelConfig } from "./model.ts";
import { encodeBatch, FIRST_ITEM_ID, UNKNOWN_ID } from "./sequences.ts";
import { Vocabulary } from "./vocabulary.ts";

export const ARTIFACT_FILES = {
  topology: "model.json",
  weights: "weights.bin",
  vocabulary: "vocabulary.json",
  config: "model-config.json",
  history: "history.json",
} as const;

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** HR@20 on the validation split after the epoch. */
  validationHr20: number;
  /** Validation examples the hit rate was computed on. */
  validationExamples: number;
  seconds: number;
  /** Training sequences per second during the epoch. */
  sequencesPerSecond: number;
}

export interface TrainingHistory {
  epochs: EpochRecord[];
  /** The epoch whose weights were kept (early stopping restores the best). */
  bestEpoch: number;
  stoppedEarly: boolean;
}

/** What is stored next to the weights: enough to rebuild and to explain the model. */
export interface ArtifactConfig {
  format: "mlops-session-recs/model@1";
  model: ModelConfig;
  /** Training settings (batch size, loss, example mode …) recorded for the model card. */
  training: Record<string, string | number | boolean>;
  /** The run that trained it. */
  runId: string;
  backend: string;
  /**
   * Never recommend the session's most recent item: true when the training sequences had
   * consecutive repeats collapsed (the transform's default), so the next item never equals it.
   */
  excludeLastItem: boolean;
}

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

export interface ModelArtifact {
  readonly config: ArtifactConfig;
  readonly vocabulary: Vocabulary;
  readonly model: tf.LayersModel;
  /**
   * Top-k SKUs for each session (oldest item first). Unknown SKUs are dropped; a session with no
   * known SKU gets the k most popular train items, flagged `fallback`. k is capped at the
   * vocabulary's real items.
   */
  predict(sessions: readonly (readonly string[])[], k: number): Promise<SessionPrediction[]>;
  dispose(): void;
}

/** Writes the artifact folder; returns the files written (relative names). */
export async function saveModelArtifact(
  dir: string,
  parts: {
    model: tf.LayersModel;
    vocabulary: Vocabulary;
    config: ArtifactConfig;
    history: TrainingHistory;
  },
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await parts.model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData;
      if (!weights) throw new Error("saveModelArtifact: the model has no weights");
      const buffer = Buffer.from(
        weights instanceof ArrayBuffer
          ? weights
          : await new Blob(weights.map((w) => new Uint8Array(w))).arrayBuffer(),
      );
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [
          { paths: [`./${ARTIFACT_FILES.weights}`], weights: artifacts.weightSpecs ?? [] },
        ],
      };
      await writeFile(join(dir, ARTIFACT_FILES.topology), JSON.stringify(modelJson));
      await writeFile(join(dir, ARTIFACT_FILES.weights), buffer);
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  await writeFile(join(dir, ARTIFACT_FILES.vocabulary), JSON.stringify(parts.vocabulary));
  await writeFile(join(dir, ARTIFACT_FILES.config), JSON.stringify(parts.config, null, 2));
  await writeFile(join(dir, ARTIFACT_FILES.history), JSON.stringify(parts.history, null, 2));
  return Object.values(ARTIFACT_FILES);
}

async function readJson(dir: string, file: string): Promise<unknown> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new PipelineError(
      `model artifact incomplete: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      2,
      "point --model at a folder written by `pipeline train` (it holds model.json, weights.bin, vocabulary.json and model-config.json)",
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new PipelineError(
      `model artifact damaged: ${path} is not valid JSON (${(error as Error).message})`,
      2,
      "re-run `pipeline train` to write the artifact again",
    );
  }
}

function parseArtifactConfig(value: unknown, path: string): ArtifactConfig {
  const config = value as Partial<ArtifactConfig> | null;
  if (config?.format !== "mlops-session-recs/model@1" || typeof config.model !== "object") {
    throw new PipelineError(
      `model artifact damaged: ${path} is not a model config (format mlops-session-recs/model@1)`,
      2,
      "re-run `pipeline train` to write the artifact again",
    );
  }
  validateModelConfig(config.model);
  return config as ArtifactConfig;
}

/** Loads an artifact folder written by `saveModelArtifact` on the active tfjs backend. */
export async function loadModelArtifact(dir: string): Promise<ModelArtifact> {
  const configPath = join(dir, ARTIFACT_FILES.config);
  const config = parseArtifactConfig(await readJson(dir, ARTIFACT_FILES.config), configPath);
  let vocabulary: Vocabulary;
  try {
    vocabulary = Vocabulary.fromJSON(await readJson(dir, ARTIFACT_FILES.vocabulary));
  } catch (error) {
    if (error instanceof PipelineError) throw error;
    throw new PipelineError(
      `model artifact damaged: ${join(dir, ARTIFACT_FILES.vocabulary)}: ${(error as Error).message}`,
      2,
    );
  }
  if (vocabulary.size !== config.model.vocabSize) {
    throw new PipelineError(
      `model artifact inconsistent: the vocabulary has ${vocabulary.size} ids but the model ${config.model.vocabSize}`,
      2,
      "the folder mixes files of two trainings; re-run `pipeline train`",
    );
  }
  const topology = (await readJson(dir, ARTIFACT_FILES.topology)) as tf.io.ModelJSON;
  const manifest = topology.weightsManifest?.[0];
  if (!manifest) {
    throw new PipelineError(
      `model artifact damaged: ${join(dir, ARTIFACT_FILES.topology)} has no weights manifest`,
      2,
    );
  }
  let weights: Buffer;
  try {
    weights = await readFile(join(dir, ARTIFACT_FILES.weights));
  } catch (error) {
    throw new PipelineError(
      `model artifact incomplete: cannot read ${join(dir, ARTIFACT_FILES.weights)} (${(error as NodeJS.ErrnoException).code ?? ""})`,
      2,
    );
  }
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: topology.modelTopology,
        weightSpecs: manifest.weights,
        weightData: weights.buffer.slice(
          weights.byteOffset,
          weights.byteOffset + weights.byteLength,
        ),
      }),
    );
  } catch (error) {
    throw new PipelineError(
      `model artifact damaged: the weights in ${dir} do not load (${(error as Error).message})`,
      2,
      "re-run `pipeline train` to write the artifact again",
    );
  }
  return createPredictor(model, vocabulary, config);
}

/** A predictor over an in-memory model (the trainer evaluates with it before anything is saved). */
export function createPredictor(
  model: tf.LayersModel,
  vocabulary: Vocabulary,
  config: ArtifactConfig,
): ModelArtifact {
  const maxLen = config.model.maxLen;
  const realItems = vocabulary.size - FIRST_ITEM_ID;
  const excludeLast = config.excludeLastItem;
  const total = Math.max(
    1,
    Array.from({ length: realItems }, (_, i) =>
      vocabulary.count(vocabulary.sku(i + 2) as string),
    ).reduce((a, b) => a + b, 0),
  );
  const popular = (k: number): ScoredSku[] =>
    Array.from({ length: Math.min(k, realItems) }, (_, i) => {
      const sku = vocabulary.sku(i + FIRST_ITEM_ID) as string;
      return { sku, score: vocabulary.count(sku) / total };
    });
  return {
    config,
    vocabulary,
    model,
    async predict(sessions, k) {
      if (!Number.isInteger(k) || k < 1)
        throw new RangeError(`k must be a positive integer, got ${k}`);
      const kk = Math.min(k, realItems - (excludeLast ? 1 : 0));
      const results: SessionPrediction[] = new Array<SessionPrediction>(sessions.length);
      const rows: number[] = [];
      const prefixes: Int32Array[] = [];
      sessions.forEach((session, i) => {
        const ids = vocabulary.encode(session);
        const known = ids.filter((id) => id !== UNKNOWN_ID);
        const unknownSkus = ids.length - known.length;
        if (known.length === 0) {
          results[i] = { items: popular(kk), unknownSkus, fallback: true };
        } else {
          rows.push(i);
          prefixes.push(known);
          results[i] = { items: [], unknownSkus, fallback: false };
        }
      });
      if (rows.length > 0 && kk > 0) {
        const top = await topK(model, encodeBatch(prefixes, maxLen), kk, { excludeLast });
        rows.forEach((row, r) => {
          const items: ScoredSku[] = [];
          for (let j = 0; j < kk; j++) {
            const id = top.ids[r * kk + j] as number;
            items.push({
              sku: vocabulary.sku(id) as string,
              score: top.scores[r * kk + j] as number,
            });
          }
          (results[row] as SessionPrediction).items = items;
        });
      }
      return results;
    },
    dispose() {
      model.dispose();
    },
  };
}
