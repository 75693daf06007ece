/**
 * Presets: named recipes for the model and training settings. A preset fills in the settings a
 * run did not set itself (from a file, the environment or a flag); the defaults of
 * ./settings.ts are the `hybrid` preset.
 *
 * - `hybrid`: a GRU with tied input/output embeddings (plus embeddings of each item's catalog
 *   facts), trained on every position of a session at
 *   once with popularity-smoothed sampled negatives and the logQ correction (GRU4Rec's recipe,
 *   Hidasi & Czapp, RecSys'23), blended with session-kNN, item co-occurrence and in-session
 *   repeats, the blend's weights fitted on the validation split.
 * - `lstm-sampled`: the previous default — the seeds' layers with Adam at 1e-2 and 1,024
 *   uniformly sampled negatives, every prefix a separate example — to reproduce its figures.
 * - `seeds`: exactly the seeds' Keras recipe: Embedding(32) → Dropout(0.3) → LSTM(32) →
 *   Dense(vocab, softmax), Adam 1e-3 on the full softmax, every prefix an example, batch 256.
 */
export const PRESET_NAMES = ["hybrid", "lstm-sampled", "seeds"] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const SEEDS_LAYERS = {
  "model.cell": "lstm",
  "model.tied": false,
  "model.itemFeatures": false,
  "model.blend": "neural",
  "model.embeddingDim": 32,
  "model.hiddenUnits": 32,
  "model.layers": 1,
  "model.dropout": 0.3,
  "model.maxLen": 20,
  "train.examples": "all-prefixes",
  "train.batchSize": 256,
  "train.popularityBias": false,
} as const;

/** Setting values by dotted key; the hybrid preset is the defaults themselves. */
export const PRESETS: Record<PresetName, Readonly<Record<string, string | number | boolean>>> = {
  hybrid: {},
  "lstm-sampled": {
    ...SEEDS_LAYERS,
    "model.learningRate": 0.01,
    "train.loss": "sampled",
    "train.negatives": 1024,
    "train.sampleAlpha": 0,
    "train.logQ": 0,
    "train.epochs": 4,
  },
  seeds: {
    ...SEEDS_LAYERS,
    "model.learningRate": 0.001,
    "train.loss": "full",
  },
};
