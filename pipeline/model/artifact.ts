/**
 * The trained recommender as a folder, laid out for SageMaker's `/opt/ml/model`, read and
 * written without tfjs:
 *
 *   model.json        format, the network's architecture and weight index, the blend (and the
 *                     ablation blend: the same without the network), the neighbourhood settings
 *   weights.bin       the network's weights, float32 little-endian, in the index's order
 *   sessions.bin      the train sessions as vocabulary ids (the neighbourhood components' data)
 *   vocabulary.json   SKU ↔ id and train counts
 *   model-config.json how it was made: settings, run id, backend, preset
 *   history.json      per-epoch loss and validation HR@20
 *
 * Folders written before this format (`mlops-session-recs/model@1`, a tfjs-layers model.json)
 * still load: their network maps onto the same runtime (./legacy-artifact.ts), so a model in
 * production keeps serving, and being compared against, after an upgrade.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PipelineError } from "../errors.ts";
import { BlendScorer, COMPONENT_KINDS, type BlendSpec } from "./blend.ts";
import { readLegacyNetwork } from "./legacy-artifact.ts";
import { NEIGHBOUR_DEFAULTS, SessionIndex, type NeighbourOptions } from "./neighbours.ts";
import { netWeightSpecs, validateNetConfig, type NetConfig } from "./net.ts";
import { NetRuntime } from "./net-runtime.ts";
import { Predictor, type SessionPrediction } from "./predictor.ts";
import { splitSessions, type SessionBlock } from "./sessions.ts";
import { Vocabulary } from "./vocabulary.ts";

export const MODEL_FORMAT = "mlops-session-recs/model@2";
export const LEGACY_MODEL_FORMAT = "mlops-session-recs/model@1";

export const ARTIFACT_FILES = {
  model: "model.json",
  weights: "weights.bin",
  sessions: "sessions.bin",
  vocabulary: "vocabulary.json",
  config: "model-config.json",
  history: "history.json",
} as const;

/** The files every artifact has, this format's and the earlier one's (which has no sessions.bin). */
export const REQUIRED_ARTIFACT_FILES: readonly string[] = Object.values(ARTIFACT_FILES).filter(
  (file) => file !== ARTIFACT_FILES.sessions,
);

export interface EpochRecord {
  epoch: number;
  /** Mean training loss over the epoch's batches. */
  loss: number;
  /** HR@20 of the network on the validation split after the epoch. */
  validationHr20: number;
  /** Validation examples the hit rate was computed on. */
  validationExamples: number;
  seconds: number;
  /** Training loss rows (targets) per second during the epoch. */
  sequencesPerSecond: number;
}

export interface TrainingHistory {
  epochs: EpochRecord[];
  /** The epoch whose weights were kept (early stopping restores the best). */
  bestEpoch: number;
  stoppedEarly: boolean;
}

/** How the model was made: recorded for the card, never needed to rank. */
export interface ArtifactConfig {
  format: typeof MODEL_FORMAT | typeof LEGACY_MODEL_FORMAT;
  /** The settings preset the run used. */
  preset?: string;
  net: NetConfig;
  /** Training settings (batch size, loss, example mode …). */
  training: Record<string, string | number | boolean>;
  runId: string;
  backend: string;
  /**
   * Never recommend the session's most recent item: true when the training sequences had
   * consecutive repeats collapsed (the transform's default), so the next item never equals it.
   */
  excludeLastItem: boolean;
}

export interface WeightEntry {
  name: string;
  shape: number[];
  /** Byte offset in weights.bin. */
  offset: number;
}

/** model.json */
export interface ModelJson {
  format: typeof MODEL_FORMAT;
  net: NetConfig;
  weights: WeightEntry[];
  blend: BlendSpec;
  /** The blend without its network, weights fitted the same way: what the network adds. */
  ablation: BlendSpec | null;
  neighbours: Required<NeighbourOptions>;
}

export interface ModelArtifact {
  readonly config: ArtifactConfig;
  readonly vocabulary: Vocabulary;
  readonly blend: BlendSpec;
  readonly ablation: BlendSpec | null;
  /** The top k SKUs for each session (see Predictor.predict). */
  predict(sessions: readonly (readonly string[])[], k: number): Promise<SessionPrediction[]>;
  /** A predictor over the same evidence with another blend (the ablation, for the evaluation). */
  withBlend(blend: BlendSpec): Pick<ModelArtifact, "predict">;
}

export interface ArtifactParts {
  net: NetConfig;
  weights: ReadonlyMap<string, Float32Array>;
  vocabulary: Vocabulary;
  blend: BlendSpec;
  ablation: BlendSpec | null;
  sessions: SessionBlock;
  neighbours: Required<NeighbourOptions>;
  config: ArtifactConfig;
  history: TrainingHistory;
}

/** Int32 words: [sessions, offsets (sessions + 1), ids]. */
function encodeSessions(sessions: SessionBlock): Buffer {
  const count = sessions.offsets.length - 1;
  const words = new Int32Array(1 + sessions.offsets.length + sessions.ids.length);
  words[0] = count;
  words.set(sessions.offsets, 1);
  words.set(sessions.ids, 1 + sessions.offsets.length);
  return Buffer.from(words.buffer, words.byteOffset, words.byteLength);
}

function decodeSessions(bytes: Buffer, path: string): SessionBlock {
  const fail = (why: string) => damaged(path, why);
  if (bytes.byteLength % 4 !== 0 || bytes.byteLength < 8)
    throw fail("it is not a list of int32 words");
  const words = new Int32Array(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
  );
  const count = words[0] as number;
  if (!(count >= 0 && 2 + count <= words.length)) throw fail("its session count is out of range");
  const offsets = words.subarray(1, 2 + count);
  const ids = words.subarray(2 + count);
  if (offsets[0] !== 0 || offsets[count] !== ids.length)
    throw fail("its offsets do not cover its ids");
  return { offsets, ids };
}

/** Writes the artifact folder; returns the files written (relative names). */
export async function saveModelArtifact(dir: string, parts: ArtifactParts): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const entries: WeightEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const { name, shape } of netWeightSpecs(parts.net)) {
    const values = parts.weights.get(name);
    if (!values) throw new Error(`saveModelArtifact: no weight ${name}`);
    entries.push({ name, shape, offset });
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    offset += values.byteLength;
  }
  const model: ModelJson = {
    format: MODEL_FORMAT,
    net: parts.net,
    weights: entries,
    blend: parts.blend,
    ablation: parts.ablation,
    neighbours: parts.neighbours,
  };
  await writeFile(join(dir, ARTIFACT_FILES.model), JSON.stringify(model, null, 2));
  await writeFile(join(dir, ARTIFACT_FILES.weights), Buffer.concat(chunks));
  await writeFile(join(dir, ARTIFACT_FILES.sessions), encodeSessions(parts.sessions));
  await writeFile(join(dir, ARTIFACT_FILES.vocabulary), JSON.stringify(parts.vocabulary));
  await writeFile(join(dir, ARTIFACT_FILES.config), JSON.stringify(parts.config, null, 2));
  await writeFile(join(dir, ARTIFACT_FILES.history), JSON.stringify(parts.history, null, 2));
  return Object.values(ARTIFACT_FILES);
}

function damaged(path: string, why: string): PipelineError {
  return new PipelineError(
    `model artifact damaged: ${path}: ${why}`,
    2,
    "re-run `pipeline train` to write the artifact again",
  );
}

async function readBytes(dir: string, file: string): Promise<Buffer> {
  const path = join(dir, file);
  try {
    return await readFile(path);
  } catch (error) {
    throw new PipelineError(
      `model artifact incomplete: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      2,
      "point --model at a folder written by `pipeline train` (it holds model.json, weights.bin, vocabulary.json and model-config.json)",
    );
  }
}

async function readJson(dir: string, file: string): Promise<unknown> {
  const bytes = await readBytes(dir, file);
  try {
    return JSON.parse(bytes.toString("utf8")) as unknown;
  } catch (error) {
    throw damaged(join(dir, file), `not valid JSON (${(error as Error).message})`);
  }
}

function parseConfig(value: unknown, path: string): ArtifactConfig {
  const config = value as (Partial<ArtifactConfig> & { model?: unknown }) | null;
  if (config?.format === LEGACY_MODEL_FORMAT) return config as ArtifactConfig; // net filled in below
  if (config?.format !== MODEL_FORMAT || typeof config.net !== "object") {
    throw damaged(path, `not a model config (format ${MODEL_FORMAT})`);
  }
  validateNetConfig(config.net);
  return config as ArtifactConfig;
}

function parseBlend(value: unknown, path: string, what: string): BlendSpec {
  const blend = value as Partial<BlendSpec> | null;
  const components = blend?.components;
  if (
    !Array.isArray(components) ||
    !components.every(
      (c: unknown) =>
        typeof c === "object" &&
        c !== null &&
        COMPONENT_KINDS.includes((c as { kind: never }).kind) &&
        typeof (c as { weight: unknown }).weight === "number",
    )
  ) {
    throw damaged(path, `its ${what} is not a list of {kind, weight} components`);
  }
  return { components: components.map((c) => ({ kind: c.kind, weight: c.weight })) };
}

/** The weights of `net` from weights.bin, by the index. */
function readWeights(net: NetConfig, entries: readonly WeightEntry[], bin: Buffer, path: string) {
  const weights = new Map<string, Float32Array>();
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const { name, shape } of netWeightSpecs(net)) {
    const entry = byName.get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!entry || entry.offset + size * 4 > bin.byteLength) {
      throw damaged(path, `weight ${name} is missing or runs past weights.bin`);
    }
    const bytes = bin.subarray(entry.offset, entry.offset + size * 4);
    weights.set(
      name,
      new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
    );
  }
  return weights;
}

/** Loads an artifact folder (either format) into a predictor. */
export async function loadModelArtifact(dir: string): Promise<ModelArtifact> {
  const configPath = join(dir, ARTIFACT_FILES.config);
  const config = parseConfig(await readJson(dir, ARTIFACT_FILES.config), configPath);
  let vocabulary: Vocabulary;
  try {
    vocabulary = Vocabulary.fromJSON(await readJson(dir, ARTIFACT_FILES.vocabulary));
  } catch (error) {
    if (error instanceof PipelineError) throw error;
    throw damaged(join(dir, ARTIFACT_FILES.vocabulary), (error as Error).message);
  }
  const modelPath = join(dir, ARTIFACT_FILES.model);
  const modelJson = await readJson(dir, ARTIFACT_FILES.model);
  const bin = await readBytes(dir, ARTIFACT_FILES.weights);

  let net: NetConfig;
  let weights: Map<string, Float32Array>;
  let blend: BlendSpec = { components: [{ kind: "neural", weight: 1 }] };
  let ablation: BlendSpec | null = null;
  let index: SessionIndex | undefined;
  if (config.format === LEGACY_MODEL_FORMAT) {
    ({ net, weights } = readLegacyNetwork(modelJson, bin, modelPath));
    config.net = net;
  } else {
    const model = modelJson as Partial<ModelJson>;
    if (
      model.format !== MODEL_FORMAT ||
      typeof model.net !== "object" ||
      !Array.isArray(model.weights)
    ) {
      throw damaged(modelPath, `not a ${MODEL_FORMAT} model`);
    }
    net = validateNetConfig(model.net);
    weights = readWeights(net, model.weights, bin, modelPath);
    blend = parseBlend(model.blend, modelPath, "blend");
    ablation = model.ablation ? parseBlend(model.ablation, modelPath, "ablation") : null;
    const usesIndex = [...blend.components, ...(ablation?.components ?? [])].some(
      (c) => c.kind === "sknn" || c.kind === "cooccurrence",
    );
    if (usesIndex) {
      const sessionsPath = join(dir, ARTIFACT_FILES.sessions);
      const sessions = decodeSessions(await readBytes(dir, ARTIFACT_FILES.sessions), sessionsPath);
      try {
        index = new SessionIndex(splitSessions(sessions), vocabulary.size, {
          ...NEIGHBOUR_DEFAULTS,
          ...model.neighbours,
        });
      } catch (error) {
        throw damaged(sessionsPath, (error as Error).message);
      }
    }
  }
  if (vocabulary.size !== net.vocabSize) {
    throw new PipelineError(
      `model artifact inconsistent: the vocabulary has ${vocabulary.size} ids but the model ${net.vocabSize}`,
      2,
      "the folder mixes files of two trainings; re-run `pipeline train`",
    );
  }
  const runtime = new NetRuntime(net, weights);
  const evidence = { vocabSize: vocabulary.size, net: runtime, ...(index ? { index } : {}) };
  const predictorFor = (spec: BlendSpec) =>
    new Predictor(
      vocabulary,
      new BlendScorer(spec, evidence, { excludeLast: config.excludeLastItem }),
    );
  const predictor = predictorFor(blend);
  return {
    config,
    vocabulary,
    blend,
    ablation,
    predict: async (sessions, k) => predictor.predict(sessions, k),
    withBlend(spec) {
      const other = predictorFor(spec);
      return { predict: async (sessions, k) => other.predict(sessions, k) };
    },
  };
}
