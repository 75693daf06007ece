import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import { selectBackend } from "../../pipeline/train/backend.ts";
import {
  buildModel,
  DEFAULT_MODEL_CONFIG,
  topK,
  type ModelConfig,
} from "../../pipeline/train/model.ts";
import { encodeBatch, encodePrefix } from "../../pipeline/train/sequences.ts";

describe("encodePrefix", () => {
  it("left-pads a short prefix with 0", () => {
    expect(Array.from(encodePrefix([5, 6, 7], 5))).toEqual([0, 0, 5, 6, 7]);
  });
  it("keeps the most recent maxLen items of a long prefix", () => {
    expect(Array.from(encodePrefix([2, 3, 4, 5, 6, 7], 4))).toEqual([4, 5, 6, 7]);
  });
  it("leaves a prefix of exactly maxLen as it is, and an empty one all padding", () => {
    expect(Array.from(encodePrefix([9, 8, 7], 3))).toEqual([9, 8, 7]);
    expect(Array.from(encodePrefix([], 3))).toEqual([0, 0, 0]);
  });
  it("rejects ids that are not non-negative integers and a bad maxLen", () => {
    expect(() => encodePrefix([2, -1], 3)).toThrow(RangeError);
    expect(() => encodePrefix([2.5], 3)).toThrow(RangeError);
    expect(() => encodePrefix([2], 0)).toThrow(RangeError);
  });
  it("encodeBatch lays rows out row-major", () => {
    expect(Array.from(encodeBatch([[2], [3, 4, 5, 6]], 3))).toEqual([0, 0, 2, 4, 5, 6]);
  });
});

describe("the model", () => {
  beforeAll(async () => {
    await selectBackend("wasm");
  });

  const small: ModelConfig = { ...DEFAULT_MODEL_CONFIG, vocabSize: 40, maxLen: 5, seed: 3 };

  it("is the seeds' recipe by default", () => {
    const model = buildModel({ ...DEFAULT_MODEL_CONFIG, vocabSize: 1000 });
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      "Embedding",
      "StepDropout",
      "LSTM",
      "Dense",
    ]);
    expect(model.inputs[0]?.shape).toEqual([null, 20]);
    expect(model.outputs[0]?.shape).toEqual([null, 1000]);
    // Embedding 1000×32, LSTM 4×(32×32 + 32×32 + 32), Dense 32×1000 + 1000.
    expect(model.countParams()).toBe(1000 * 32 + 4 * (32 * 32 + 32 * 32 + 32) + 32 * 1000 + 1000);
    // Keras 2's LSTM: tanh activation, sigmoid gates (tfjs-layers would default to hardSigmoid).
    expect(model.layers[2]?.getConfig()).toMatchObject({
      activation: "tanh",
      recurrentActivation: "sigmoid",
      units: 32,
    });
    const optimizer = model.optimizer as tf.AdamOptimizer; // compile() was given an Adam optimizer
    expect(optimizer.getClassName()).toBe("Adam");
    expect(optimizer.getConfig().learningRate).toBe(1e-3);
    model.dispose();
  });

  it("builds a stacked GRU when asked", () => {
    const model = buildModel({ ...small, cell: "gru", layers: 2 });
    expect(model.layers.map((l) => l.getClassName())).toEqual([
      "Embedding",
      "StepDropout",
      "GRU",
      "StepDropout",
      "GRU",
      "Dense",
    ]);
    model.dispose();
  });

  it("has identical weights for the same seed and different ones for another", () => {
    const weights = (config: ModelConfig) => {
      const model = buildModel(config);
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    const a = weights(small);
    expect(weights(small)).toEqual(a);
    const c = weights({ ...small, seed: 4 });
    expect(c).toHaveLength(a.length);
    // Biases start constant whatever the seed; every random matrix must change with it.
    const random = a.flatMap((w, i) => (new Set(w).size > 2 ? [i] : []));
    expect(random).toHaveLength(4); // embedding, LSTM kernel, LSTM recurrent kernel, Dense kernel
    for (const i of random) expect(c[i]).not.toEqual(a[i]);
  });

  it("rejects an invalid setting naming the field", () => {
    expect(() => buildModel({ ...small, hiddenUnits: 0 })).toThrow(InputError);
    expect(() => buildModel({ ...small, dropout: 1 })).toThrow(/model\.dropout/);
    expect(() => buildModel({ ...small, cell: "rnn" as "lstm" })).toThrow(
      /model\.cell.*lstm or gru/,
    );
  });

  it("learns a deterministic next-item rule on wasm, and topK ranks its answer first", async () => {
    // next item = last item + 1 (items 2..38 → 3..39): learnable from the last position alone.
    const config: ModelConfig = { ...small, dropout: 0, learningRate: 0.05 };
    const model = buildModel(config);
    const prefixes: number[][] = [];
    const targets: number[] = [];
    for (let last = 2; last < config.vocabSize - 1; last++) {
      for (const length of [1, 3, 5, 7]) {
        // Earlier items are scrambled, so only the last one predicts the target.
        const earlier = Array.from(
          { length: length - 1 },
          (_, i) => 2 + ((last * 7 + i * 13 + length) % 38),
        );
        prefixes.push([...earlier, last]);
        targets.push(last + 1);
      }
    }
    const x = tf.tensor2d(
      encodeBatch(prefixes, config.maxLen),
      [prefixes.length, config.maxLen],
      "int32",
    );
    const y = tf.tensor1d(targets, "float32");
    const history = await model.fit(x, y, {
      epochs: 25,
      batchSize: 64,
      shuffle: false,
      verbose: 0,
    });
    const losses = history.history.loss as number[];
    expect(losses.at(-1)).toBeLessThan((losses[0] as number) / 4);

    const probe = [[7], [2, 3, 20], [10, 11, 12, 13, 14, 15, 16, 30]];
    const top = await topK(model, encodeBatch(probe, config.maxLen), 5);
    expect(top).toMatchObject({ batch: 3, k: 5 });
    expect([top.ids[0], top.ids[5], top.ids[10]]).toEqual([8, 21, 31]);
    for (let row = 0; row < 3; row++) {
      const scores = Array.from(top.scores.subarray(row * 5, row * 5 + 5));
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
    tf.dispose([x, y]);
    model.dispose();
  });

  it("topK never recommends padding or unknown, and returns the model's probabilities", async () => {
    const model = buildModel(small);
    // An untrained model: padding/unknown have ordinary probabilities, so only the mask keeps them out.
    const batch = encodeBatch([[0], [5, 6], [1, 1, 1]], small.maxLen);
    const top = await topK(model, batch, small.vocabSize - 2);
    expect(Array.from(top.ids)).not.toContain(0);
    expect(Array.from(top.ids)).not.toContain(1);
    const probs = (
      model.predict(tf.tensor2d(batch, [3, small.maxLen], "int32")) as tf.Tensor2D
    ).arraySync();
    for (let i = 0; i < top.ids.length; i++) {
      const row = Math.floor(i / top.k);
      expect(top.scores[i]).toBeCloseTo(probs[row]![top.ids[i]!]!, 6);
    }
    await expect(topK(model, batch, small.vocabSize - 1)).rejects.toThrow(RangeError);
    await expect(topK(model, new Int32Array(7), 3)).rejects.toThrow(/whole number of rows/);
    model.dispose();
  });
});
