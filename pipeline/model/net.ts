/**
 * The neural part of a recommender, as both runtimes see it: its architecture (`NetConfig`) and
 * the names and shapes of its weights (`netWeightSpecs`). The trainer (tfjs, pipeline/train/)
 * creates exactly these weights and the inference runtime (plain TypeScript, ./net-runtime.ts)
 * reads exactly these, so the list below is the whole contract between them.
 *
 * Ids follow pipeline/train/sequences.ts: 0 is padding, 1 is unknown, real items start at 2.
 *
 * The network: embedding → `layers` recurrent layers → item scores.
 * - Recurrent cells use Keras's formulation (the seeds' recipe, and tfjs-layers'), sigmoid
 *   recurrent activation, tanh activation. LSTM gates in kernel column order i, f, c, o:
 *   z = x·W + h·U + b; c' = σ(f)·c + σ(i)·tanh(c̃); h' = σ(o)·tanh(c').
 *   GRU (reset before the recurrent product, tfjs-layers' only variant) in order z, r, h:
 *   z = σ(x·W_z + h·U_z + b_z); r = σ(x·W_r + h·U_r + b_r);
 *   h̃ = tanh(x·W_h + (r·h)·U_h + b_h); h' = z·h + (1 − z)·h̃.
 * - Untied: score = h·W_out + b_out (the seeds' Dense(vocab) before its softmax).
 * - Tied (GRU4Rec's constrained embedding, Hidasi & Czapp 2023): score = h·Eᵀ + b_out, the
 *   item embedding E serving as both input and output, so `hiddenUnits` must equal
 *   `embeddingDim`.
 * Padding steps leave the state unchanged (Keras's mask semantics); the state starts at zero.
 */
import { InputError } from "../errors.ts";

export type CellType = "lstm" | "gru";

export interface NetConfig {
  cell: CellType;
  /** Distinct ids including padding (0) and unknown (1). */
  vocabSize: number;
  embeddingDim: number;
  hiddenUnits: number;
  /** Stacked recurrent layers. */
  layers: number;
  /** Output scores use the item embedding (tied) or a separate output matrix. */
  tied: boolean;
  /** Items of history read at inference (longer sessions keep their most recent items). */
  maxLen: number;
}

export interface WeightSpec {
  name: string;
  shape: number[];
}

/** Gate blocks per cell: the recurrent kernels are [in, gates × hiddenUnits]. */
export const GATES: Record<CellType, number> = { lstm: 4, gru: 3 };

/** The weights of a network, in the order they are stored. */
export function netWeightSpecs(config: NetConfig): WeightSpec[] {
  const { vocabSize: v, embeddingDim: e, hiddenUnits: h } = config;
  const g = GATES[config.cell] * h;
  const specs: WeightSpec[] = [{ name: "embedding", shape: [v, e] }];
  for (let layer = 0; layer < config.layers; layer++) {
    specs.push(
      { name: `rnn_${layer}/kernel`, shape: [layer === 0 ? e : h, g] },
      { name: `rnn_${layer}/recurrent`, shape: [h, g] },
      { name: `rnn_${layer}/bias`, shape: [g] },
    );
  }
  if (!config.tied) specs.push({ name: "output/kernel", shape: [h, v] });
  specs.push({ name: "output/bias", shape: [v] });
  return specs;
}

function integerAtLeast(config: NetConfig, field: keyof NetConfig, min: number): void {
  const value = config[field];
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InputError(
      `invalid model setting ${JSON.stringify(value)}: expected an integer of at least ${min}`,
      { field: `model.${field}` },
    );
  }
}

/** Checks a config; the error names the field, the value and what is allowed. */
export function validateNetConfig(config: NetConfig): NetConfig {
  integerAtLeast(config, "vocabSize", 3); // padding, unknown and at least one item
  integerAtLeast(config, "embeddingDim", 1);
  integerAtLeast(config, "hiddenUnits", 1);
  integerAtLeast(config, "layers", 1);
  integerAtLeast(config, "maxLen", 1);
  if (config.cell !== "lstm" && config.cell !== "gru") {
    throw new InputError(`invalid model setting "${String(config.cell)}": expected lstm or gru`, {
      field: "model.cell",
    });
  }
  if (typeof config.tied !== "boolean") {
    throw new InputError(
      `invalid model setting ${JSON.stringify(config.tied)}: expected a boolean`,
      {
        field: "model.tied",
      },
    );
  }
  if (config.tied && config.hiddenUnits !== config.embeddingDim) {
    throw new InputError(
      `tied embeddings need as many hidden units as embedding dimensions, got ${config.hiddenUnits} and ${config.embeddingDim}`,
      { field: "model.hiddenUnits" },
      "set --hidden-units equal to --embedding-dim, or --tied false",
    );
  }
  return config;
}
