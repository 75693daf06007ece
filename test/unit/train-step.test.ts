import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../pipeline/train/backend.ts";
import {
  buildModel,
  DEFAULT_MODEL_CONFIG,
  topK,
  type ModelConfig,
} from "../../pipeline/train/model.ts";
import { encodeBatch } from "../../pipeline/train/sequences.ts";
import { createTrainStep, fullSoftmaxLoss } from "../../pipeline/train/step.ts";

const config: ModelConfig = {
  ...DEFAULT_MODEL_CONFIG,
  vocabSize: 60,
  maxLen: 5,
  dropout: 0,
  learningRate: 0.05,
  seed: 5,
};

/** next item = last item + 1; earlier items are scrambled so only the last one predicts. */
function ruleData(): { x: tf.Tensor2D; y: tf.Tensor1D } {
  const prefixes: number[][] = [];
  const targets: number[] = [];
  for (let last = 2; last < config.vocabSize - 1; last++) {
    for (const length of [1, 3, 6]) {
      const earlier = Array.from(
        { length: length - 1 },
        (_, i) => 2 + ((last * 7 + i * 13 + length) % 58),
      );
      prefixes.push([...earlier, last]);
      targets.push(last + 1);
    }
  }
  return {
    x: tf.tensor2d(encodeBatch(prefixes, config.maxLen), [prefixes.length, config.maxLen], "int32"),
    y: tf.tensor1d(targets, "float32"),
  };
}

beforeAll(async () => {
  await selectBackend("wasm");
});

describe("createTrainStep", () => {
  it("full: its first loss is the compiled model's sparse cross-entropy on the same batch", async () => {
    const model = buildModel(config);
    const { x, y } = ruleData();
    const compiled = (
      model.evaluate(x, y, { batchSize: 1000 }) as tf.Scalar
    ).dataSync()[0] as number;
    const step = createTrainStep(model, { loss: "full", negatives: 0, seed: 1 });
    expect(step(x, y)).toBeCloseTo(compiled, 4);
    // ...and the step changed the weights in the direction that lowers it.
    expect(fullSoftmaxLoss(model, x, y)).toBeLessThan(compiled);
    tf.dispose([x, y]);
    model.dispose();
  });

  it("sampled: training on 16 sampled negatives lowers the full-softmax loss and learns the rule", async () => {
    const model = buildModel(config);
    const { x, y } = ruleData();
    const before = fullSoftmaxLoss(model, x, y);
    const step = createTrainStep(model, { loss: "sampled", negatives: 16, seed: 4 });
    for (let epoch = 0; epoch < 120; epoch++) step(x, y);
    const after = fullSoftmaxLoss(model, x, y);
    expect(after).toBeLessThan(before / 3);
    const top = await topK(model, encodeBatch([[9], [30, 2, 40]], config.maxLen), 3);
    expect([top.ids[0], top.ids[3]]).toEqual([10, 41]);
    expect(tf.memory().numTensors).toBeLessThan(200); // the step leaks nothing per call
    tf.dispose([x, y]);
    model.dispose();
  });

  it("rejects a negative count the vocabulary cannot supply", () => {
    const model = buildModel(config);
    expect(() => createTrainStep(model, { loss: "sampled", negatives: 58, seed: 1 })).toThrow(
      RangeError,
    );
    expect(() => createTrainStep(model, { loss: "sampled", negatives: 0, seed: 1 })).toThrow(
      RangeError,
    );
    model.dispose();
  });
});
