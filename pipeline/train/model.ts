/**
 * The next-item model. The default is the seeds' recipe (the Python original's Keras model):
 * Embedding(vocab, 32, mask_zero) → Dropout(0.3) → LSTM(32) → Dense(vocab, softmax), trained
 * with Adam(1e-3) on sparse categorical cross-entropy: `DEFAULT_MODEL_CONFIG`. Every knob is a typed
 * `ModelConfig` field. The pipeline's own defaults (pipeline/config/settings.ts) keep the layers
 * and change the training: Adam at 1e-2 with a sampled-softmax loss, which reaches a useful model
 * in a few CPU epochs where the recipe needs many more.
 *
 * Weights are seeded: every initializer gets a seed derived from `config.seed`, so two builds
 * with the same config have identical weights on the same backend. Dropout is seeded per training
 * call (`StepDropout`): tfjs's own Dropout layer either draws from Math.random (not repeatable) or,
 * given a seed, draws the same mask at every step (no regularisation at all).
 *
 * tfjs is imported through the union package `@tensorflow/tfjs`: under Node, tfjs-core's own
 * bundle registers neither gradients nor the chained tensor methods that tfjs-layers calls
 * (`rMat.flatten is not a function` in the Orthogonal initializer); the union bundle does both.
 */
import * as tf from "@tensorflow/tfjs";

import { InputError } from "../errors.ts";
import { PAD_ID, UNKNOWN_ID } from "./sequences.ts";

export type CellType = "lstm" | "gru";

export interface ModelConfig {
  /** Distinct ids including padding (0) and unknown (1): real items are 2..vocabSize-1. */
  vocabSize: number;
  /** Items of history the model reads (prefixes are left-padded / front-truncated to it). */
  maxLen: number;
  cell: CellType;
  embeddingDim: number;
  hiddenUnits: number;
  /** Stacked recurrent layers. */
  layers: number;
  /** Dropout rate after the embedding (and between stacked recurrent layers). */
  dropout: number;
  learningRate: number;
  /** Seed of every weight initializer. */
  seed: number;
}

export const DEFAULT_MODEL_CONFIG: Omit<ModelConfig, "vocabSize"> = {
  maxLen: 20,
  cell: "lstm",
  embeddingDim: 32,
  hiddenUnits: 32,
  layers: 1,
  dropout: 0.3,
  learningRate: 1e-3,
  seed: 42,
};

/** Checks a config; the error names the field, the value and what is allowed. */
export function validateModelConfig(config: ModelConfig): ModelConfig {
  const integer = (field: keyof ModelConfig, min: number) => {
    const value = config[field];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
      throw new InputError(
        `invalid model setting ${JSON.stringify(value)}: expected an integer of at least ${min}`,
        {
          field: `model.${field}`,
        },
      );
    }
  };
  integer("vocabSize", 3); // padding, unknown and at least one item
  integer("maxLen", 1);
  integer("embeddingDim", 1);
  integer("hiddenUnits", 1);
  integer("layers", 1);
  integer("seed", 0);
  if (config.cell !== "lstm" && config.cell !== "gru") {
    throw new InputError(`invalid model setting "${String(config.cell)}": expected lstm or gru`, {
      field: "model.cell",
    });
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) {
    throw new InputError(`invalid model setting ${config.dropout}: expected a rate in [0, 1)`, {
      field: "model.dropout",
    });
  }
  if (!(config.learningRate > 0 && Number.isFinite(config.learningRate))) {
    throw new InputError(
      `invalid model setting ${config.learningRate}: expected a positive number`,
      {
        field: "model.learningRate",
      },
    );
  }
  return config;
}

/**
 * tfjs-layers warns on every Orthogonal initialisation of more than 2000 elements (a 32-unit LSTM's
 * recurrent kernel has 4096); the QR it runs on that size is fast, so the warning is only noise.
 */
function withoutOrthogonalWarning<T>(build: () => T): T {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].startsWith("Orthogonal initializer is being called"))
      return;
    warn(...args);
  };
  try {
    return build();
  } finally {
    console.warn = warn;
  }
}

interface StepDropoutArgs {
  rate: number;
  seed: number;
  /** Training calls made so far: a checkpoint restores it so a resumed run draws the same masks. */
  calls?: number;
  name?: string;
}

/**
 * Dropout whose mask at the n-th training call is a function of (seed, n): two runs with the same
 * seed draw the same masks, every step a different one. At inference it is the identity, as
 * Keras's Dropout. It keeps the embedding's padding mask flowing to the recurrent layer.
 */
export class StepDropout extends tf.layers.Layer {
  static className = "StepDropout";
  readonly rate: number;
  readonly seed: number;
  calls: number;

  constructor(args: StepDropoutArgs) {
    super(args.name === undefined ? {} : { name: args.name });
    this.rate = args.rate;
    this.seed = args.seed;
    this.calls = args.calls ?? 0;
    this.supportsMasking = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const input = Array.isArray(inputs) ? (inputs[0] as tf.Tensor) : inputs;
    if (kwargs.training !== true || this.rate === 0) return input;
    // Seeds stay below 2^53: seed < 2^32 is spread by a prime multiplier, calls add to it.
    const seed = (this.seed % 1_000_003) * 1_000_003 + this.calls;
    this.calls++;
    return tf.dropout(input, this.rate, undefined, seed);
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}
tf.serialization.registerClass(StepDropout);

/** Sets every StepDropout layer's call counter (a resumed run continues the mask sequence). */
export function setDropoutCalls(model: tf.LayersModel, calls: number): void {
  for (const layer of model.layers) if (layer instanceof StepDropout) layer.calls = calls;
}

/** The training calls made so far (the same for every StepDropout layer of a model). */
export function dropoutCalls(model: tf.LayersModel): number {
  const layer = model.layers.find((l) => l instanceof StepDropout);
  return layer instanceof StepDropout ? layer.calls : 0;
}

/** Builds and compiles the model described by `config` on the active backend. */
export function buildModel(input: ModelConfig): tf.Sequential {
  const config = validateModelConfig(input);
  // One seed per initializer, so no two weight matrices share a random stream.
  let nextSeed = config.seed;
  const seed = () => nextSeed++;
  return withoutOrthogonalWarning(() => {
    const model = tf.sequential({ name: "next_item" });
    model.add(
      tf.layers.embedding({
        inputDim: config.vocabSize,
        outputDim: config.embeddingDim,
        inputLength: config.maxLen,
        maskZero: true,
        // Keras's default embedding initializer, seeded.
        embeddingsInitializer: tf.initializers.randomUniform({
          minval: -0.05,
          maxval: 0.05,
          seed: seed(),
        }),
        name: "item_embedding",
      }),
    );
    const dropout = () => new StepDropout({ rate: config.dropout, seed: seed() });
    if (config.dropout > 0) model.add(dropout());
    for (let i = 0; i < config.layers; i++) {
      const last = i === config.layers - 1;
      const args = {
        units: config.hiddenUnits,
        returnSequences: !last,
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }),
        recurrentInitializer: tf.initializers.orthogonal({ seed: seed() }),
        // Keras 2 / TF2 (the seeds' recipe) and PyTorch gate with the sigmoid; tfjs-layers
        // defaults to Keras 1's hardSigmoid, a different function (and three kernels, not one).
        recurrentActivation: "sigmoid" as const,
        name: `${config.cell}_${i + 1}`,
      };
      model.add(config.cell === "lstm" ? tf.layers.lstm(args) : tf.layers.gru(args));
      if (!last && config.dropout > 0) model.add(dropout());
    }
    model.add(
      tf.layers.dense({
        units: config.vocabSize,
        activation: "softmax",
        kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }),
        name: "next_item_softmax",
      }),
    );
    model.compile({
      optimizer: tf.train.adam(config.learningRate),
      loss: "sparseCategoricalCrossentropy",
    });
    return model;
  });
}

export interface TopK {
  /** Rows in the batch. */
  batch: number;
  k: number;
  /** Row-major [batch, k] item ids, most likely first. */
  ids: Int32Array;
  /** Row-major [batch, k] probabilities matching `ids`. */
  scores: Float32Array;
}

/**
 * The k most likely next items for each row of a [batch, maxLen] block of encoded prefixes
 * (see `encodeBatch`). Padding and the unknown id are never recommended; with `excludeLast`,
 * neither is each row's most recent item.
 */
export async function topK(
  model: tf.LayersModel,
  sequences: Int32Array,
  k: number,
  options: { excludeLast?: boolean } = {},
): Promise<TopK> {
  const shape = model.inputs[0]?.shape;
  const maxLen = shape?.[1];
  if (typeof maxLen !== "number") throw new Error("topK: the model has no fixed sequence length");
  if (sequences.length % maxLen !== 0) {
    throw new RangeError(
      `topK: ${sequences.length} ids is not a whole number of rows of ${maxLen}`,
    );
  }
  const batch = sequences.length / maxLen;
  const [values, indices] = tf.tidy(() => {
    const input = tf.tensor2d(sequences, [batch, maxLen], "int32");
    const probs = model.predict(input) as tf.Tensor2D; // one input, one output
    const vocab = probs.shape[1];
    const candidates = vocab - (options.excludeLast ? 3 : 2);
    if (k < 1 || k > candidates)
      throw new RangeError(`topK: k must be between 1 and ${candidates}, got ${k}`);
    // Push padding and unknown below every real item (probabilities are in [0, 1]); with
    // k ≤ vocab - 2 they are never picked, so the values picked are the real probabilities.
    const blocked = tf.mul(
      tf.sum(tf.oneHot(tf.tensor1d([PAD_ID, UNKNOWN_ID], "int32"), vocab), 0),
      2,
    );
    // With consecutive repeats collapsed (the transform's default), the next item is never the
    // last one: block it too, as the baselines do.
    const last = options.excludeLast
      ? tf.mul(tf.oneHot(tf.squeeze(tf.slice(input, [0, maxLen - 1], [batch, 1]), [1]), vocab), 2)
      : undefined;
    const result = tf.topk(tf.sub(probs, last ? tf.add(blocked, last) : blocked), k);
    return [result.values, result.indices];
  });
  try {
    const [scores, ids] = await Promise.all([values.data<"float32">(), indices.data<"int32">()]);
    return { batch, k, ids, scores };
  } finally {
    values.dispose();
    indices.dispose();
  }
}
