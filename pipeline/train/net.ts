/**
 * The network of pipeline/model/net.ts as trainable tfjs variables, with its forward pass for
 * training: embedding lookup → dropout → the fused recurrent layers (./ops/recurrent.ts).
 *
 * Everything random is drawn on the host from the project's seeded streams (pipeline/prng.ts),
 * not from tfjs's generators: the initial weights and every dropout mask are functions of
 * (seed, purpose, step) only, the same on every backend, so a run resumed from a checkpoint
 * draws what the uninterrupted run drew.
 *
 * Initialisation follows Keras's defaults, as the seeds' recipe had them: embeddings uniform in
 * ±0.05, input kernels Glorot-uniform, recurrent kernels orthogonal, biases zero except the
 * LSTM's forget gate at 1 (`unit_forget_bias`); the untied output kernel Glorot-uniform. The
 * output bias may start at the log of each item's train frequency (GRU4Rec's practice: the
 * model starts as the popularity ranking instead of uniform, and spends its first steps on
 * what popularity does not explain).
 */
import * as tf from "@tensorflow/tfjs";
import { netWeightSpecs, validateNetConfig, type NetConfig } from "../model/net.ts";
import { Rng, seedWords } from "../prng.ts";
import { featuresOf, type ItemFeatures } from "./item-features.ts";
import { RECURRENT_OPS } from "./ops/recurrent.ts";
import { sumRows } from "./ops/sum-rows.ts";

/** Purposes of the seed's streams, apart from every other use of the seed. */
const STREAM = { init: 0x494e_4954, dropout: 0x4452_4f50 } as const;

export interface NetInit {
  seed: number;
  /** Item side information: a feature embedding of this many rows is added (see item-features.ts). */
  featureCount?: number;
  /** Train counts of ids 0..vocabSize-1 (0 for padding and unknown): the output bias starts at their log-frequency. */
  outputBiasCounts?: ArrayLike<number>;
}

/** One right-padded batch of id sequences: row r holds `lengths[r]` ids, then padding. */
export interface SequenceBlock {
  rows: number;
  steps: number;
  /** [rows × steps] ids, row-major. */
  ids: Int32Array;
}

function glorot(rng: Rng, fanIn: number, fanOut: number, size: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: size }, () => (rng.float() * 2 - 1) * limit);
}

/** A [rows, cols] matrix with orthonormal rows (rows ≤ cols) or columns, as Keras's Orthogonal. */
function orthogonal(rng: Rng, rows: number, cols: number): Float32Array {
  // Gram–Schmidt on the shorter side's vectors, drawn normal.
  const n = Math.min(rows, cols);
  const m = Math.max(rows, cols);
  const vectors = Array.from({ length: n }, () =>
    Float64Array.from({ length: m }, () => rng.normal()),
  );
  vectors.forEach((v, i) => {
    for (let j = 0; j < i; j++) {
      const u = vectors[j] as Float64Array;
      let dot = 0;
      for (let k = 0; k < m; k++) dot += (v[k] as number) * (u[k] as number);
      for (let k = 0; k < m; k++) v[k] = (v[k] as number) - dot * (u[k] as number);
    }
    const norm = Math.hypot(...v) || 1;
    for (let k = 0; k < m; k++) v[k] = (v[k] as number) / norm;
  });
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < m; k++) {
      // Vector i is row i when rows ≤ cols, else column i.
      out[rows <= cols ? i * cols + k : k * cols + i] = (vectors[i] as Float64Array)[k] as number;
    }
  }
  return out;
}

/** Initial values of every weight, in netWeightSpecs order. */
export function initialWeights(config: NetConfig, init: NetInit): Map<string, Float32Array> {
  const rng = Rng.from(...seedWords(init.seed), STREAM.init);
  const weights = new Map<string, Float32Array>();
  const h = config.hiddenUnits;
  for (const { name, shape } of netWeightSpecs(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const [rows = 1, cols = 1] = shape;
    let values: Float32Array;
    if (name === "embedding") {
      values = Float32Array.from({ length: size }, () => (rng.float() * 2 - 1) * 0.05);
    } else if (name.endsWith("/recurrent")) {
      values = orthogonal(rng, rows, cols);
    } else if (name.endsWith("/kernel")) {
      values = glorot(rng, rows, cols, size);
    } else if (name === "output/bias") {
      values = new Float32Array(size);
      const counts = init.outputBiasCounts;
      if (counts) {
        let total = 0;
        for (let i = 0; i < size; i++) total += counts[i] ?? 0;
        // log p for seen items; padding, unknown and unseen ids start far below any of them.
        const floor = Math.log(0.5 / Math.max(total, 1));
        for (let i = 0; i < size; i++) {
          const n = counts[i] ?? 0;
          values[i] = n > 0 ? Math.log(n / total) : floor;
        }
      }
    } else {
      values = new Float32Array(size); // recurrent biases
      if (config.cell === "lstm") values.fill(1, h, 2 * h); // forget gate: i, f, c, o
    }
    weights.set(name, values);
  }
  if (init.featureCount) {
    const e = config.embeddingDim;
    weights.set(
      FEATURES,
      Float32Array.from({ length: init.featureCount * e }, () => (rng.float() * 2 - 1) * 0.05),
    );
  }
  return weights;
}

/** The feature embedding's name among a trainable net's weights (not in the artifact). */
export const FEATURES = "item_features";

export class TrainableNet {
  readonly config: NetConfig;
  /** In netWeightSpecs order, then the feature embedding when the net has item features. */
  readonly variables: Map<string, tf.Variable>;
  private readonly features: ItemFeatures | undefined;
  private readonly allIds: Int32Array;

  constructor(
    config: NetConfig,
    weights: ReadonlyMap<string, Float32Array>,
    features?: ItemFeatures,
  ) {
    this.config = validateNetConfig(config);
    this.features = features && features.count > 0 ? features : undefined;
    const specs = netWeightSpecs(config);
    if (this.features) {
      specs.push({ name: FEATURES, shape: [this.features.count, config.embeddingDim] });
    }
    this.variables = new Map(
      specs.map(({ name, shape }) => {
        const values = weights.get(name);
        if (!values) throw new Error(`TrainableNet: no initial value for ${name}`);
        return [name, tf.variable(tf.tensor(values, shape, "float32"), true, name)];
      }),
    );
    this.allIds = Int32Array.from({ length: config.vocabSize }, (_, i) => i);
  }

  variable(name: string): tf.Variable {
    const v = this.variables.get(name);
    if (!v) throw new Error(`TrainableNet: no weight ${name}`);
    return v;
  }

  /**
   * The embeddings of `ids`, [ids.length, embeddingDim]: each item's own row, plus its
   * features' rows when the net has item features.
   */
  embed(ids: Int32Array): tf.Tensor2D {
    const own = tf.gather(this.variable("embedding"), tf.tensor1d(ids, "int32")) as tf.Tensor2D;
    if (!this.features) return own;
    const flat = featuresOf(this.features, ids);
    if (flat.ids.length === 0) return own;
    const rows = tf.gather(this.variable(FEATURES), tf.tensor1d(flat.ids, "int32"));
    return tf.add(own, sumRows(rows as tf.Tensor2D, flat.segments, ids.length));
  }

  /**
   * The last recurrent layer's output at every step of a right-padded block, time-major:
   * [steps × rows, units], row t × rows + r for step t of row r (see ./ops/recurrent.ts). With
   * `dropout`, the inputs of every recurrent layer are dropped with that rate, the masks a
   * function of (seed, step, layer).
   */
  states(
    block: SequenceBlock,
    dropout?: { rate: number; seed: number; step: number },
  ): tf.Tensor2D {
    const { rows, steps } = block;
    const timeMajor = new Int32Array(rows * steps);
    for (let r = 0; r < rows; r++) {
      for (let t = 0; t < steps; t++) timeMajor[t * rows + r] = block.ids[r * steps + t] as number;
    }
    let x = this.embed(timeMajor);
    const drop = dropout && dropout.rate > 0 ? dropoutMasks(dropout) : undefined;
    for (let layer = 0; layer < this.config.layers; layer++) {
      if (drop) x = tf.mul(x, drop(x.shape, layer));
      x = RECURRENT_OPS[this.config.cell](x, rows, {
        kernel: this.variable(`rnn_${layer}/kernel`) as tf.Tensor as tf.Tensor2D,
        recurrent: this.variable(`rnn_${layer}/recurrent`) as tf.Tensor as tf.Tensor2D,
        bias: this.variable(`rnn_${layer}/bias`) as tf.Tensor as tf.Tensor1D,
      });
    }
    return x;
  }

  /** The [units, vocabSize] output matrix: the embeddings' transpose when tied. */
  outputMatrix(): tf.Tensor2D {
    return this.config.tied
      ? tf.transpose(this.embed(this.allIds))
      : (this.variable("output/kernel") as tf.Tensor as tf.Tensor2D);
  }

  /** Item scores (logits) of hidden states [rows, units] → [rows, vocabSize]. */
  logits(hidden: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(hidden, this.outputMatrix()), this.variable("output/bias"));
  }

  /** The current values of every variable, for checkpoints. */
  async weights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.variables) out.set(name, Float32Array.from(await v.data()));
    return out;
  }

  /**
   * `weights` as the artifact stores them (netWeightSpecs): with item features, each item's
   * embedding has its features' embeddings added, so the inference runtime needs no features.
   */
  exportWeights(weights: ReadonlyMap<string, Float32Array>): Map<string, Float32Array> {
    return materialize(this.config, weights, this.features);
  }

  /** Sets every weight (a checkpoint, the best epoch's weights). */
  assign(weights: ReadonlyMap<string, Float32Array>): void {
    for (const [name, v] of this.variables) {
      const values = weights.get(name);
      if (!values) throw new Error(`TrainableNet: no value for ${name}`);
      tf.tidy(() => v.assign(tf.tensor(values, v.shape, "float32")));
    }
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
  }
}

/** Inverted-dropout masks for each layer's inputs, drawn on the host. */
function dropoutMasks(d: { rate: number; seed: number; step: number }) {
  return (shape: number[], layer: number): tf.Tensor => {
    const rng = Rng.from(...seedWords(d.seed), STREAM.dropout, d.step, layer);
    const size = shape.reduce((a, b) => a * b, 1);
    const keep = 1 / (1 - d.rate);
    const mask = new Float32Array(size);
    for (let i = 0; i < size; i++) mask[i] = rng.float() < d.rate ? 0 : keep;
    return tf.tensor(mask, shape, "float32");
  };
}

/** See TrainableNet.exportWeights. */
export function materialize(
  config: NetConfig,
  weights: ReadonlyMap<string, Float32Array>,
  features: ItemFeatures | undefined,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const { name } of netWeightSpecs(config)) {
    const values = weights.get(name);
    if (!values) throw new Error(`materialize: no weight ${name}`);
    out.set(name, values);
  }
  const table = weights.get(FEATURES);
  if (!features || features.count === 0 || !table) return out;
  const e = config.embeddingDim;
  const embedding = Float32Array.from(out.get("embedding") as Float32Array);
  for (let id = 0; id < config.vocabSize; id++) {
    for (let f = features.offsets[id] as number; f < (features.offsets[id + 1] as number); f++) {
      const row = (features.ids[f] as number) * e;
      for (let k = 0; k < e; k++) {
        embedding[id * e + k] = (embedding[id * e + k] as number) + (table[row + k] as number);
      }
    }
  }
  out.set("embedding", embedding);
  return out;
}
