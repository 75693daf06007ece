import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../pipeline/train/backend.ts";
import { buildModel, DEFAULT_MODEL_CONFIG } from "../../pipeline/train/model.ts";
import {
  cpuUnsortedSegmentSumConfig,
  registerSegmentSum,
  wasmUnsortedSegmentSumConfig,
} from "../../pipeline/train/kernels/segment-sum.ts";
import { seededFloats } from "../../pipeline/prng.ts";

// tfjs-backend-cpu's own kernel, captured before selectBackend replaces it: the reference.
const stockCpuKernel = tf.getKernel("UnsortedSegmentSum", "cpu");

/**
 * Runs `f` on a backend; "stock-cpu" is the cpu backend with tfjs's own UnsortedSegmentSum,
 * the reference every result here is compared with.
 */
async function on<T>(backend: "cpu" | "wasm" | "stock-cpu", f: () => T): Promise<T> {
  await tf.setBackend(backend === "stock-cpu" ? "cpu" : backend);
  if (backend !== "stock-cpu") return f();
  tf.unregisterKernel("UnsortedSegmentSum", "cpu");
  tf.registerKernel(stockCpuKernel as tf.KernelConfig);
  try {
    return f();
  } finally {
    registerSegmentSum("cpu");
  }
}

beforeAll(async () => {
  expect(stockCpuKernel).toBeDefined();
  // Loads both and registers this project's kernels; tests switch with tf.setBackend.
  await selectBackend("cpu");
  await selectBackend("wasm");
});

describe("UnsortedSegmentSum on wasm and cpu", () => {
  it("is the kernel this project registers", () => {
    expect(tf.getKernel("UnsortedSegmentSum", "wasm")).toBe(wasmUnsortedSegmentSumConfig);
    expect(tf.getKernel("UnsortedSegmentSum", "cpu")).toBe(cpuUnsortedSegmentSumConfig);
    expect(stockCpuKernel).not.toBe(cpuUnsortedSegmentSumConfig);
  });

  it.each([
    { name: "rank 1", shape: [40], numSegments: 7 },
    { name: "rank 3", shape: [64, 3, 5], numSegments: 11 },
    { name: "more segments than rows", shape: [5, 4], numSegments: 30 },
  ])("matches tfjs's own cpu kernel on random inputs ($name)", async ({ shape, numSegments }) => {
    const next = seededFloats(shape.reduce((a, b) => a * b, numSegments));
    const rows = shape[0] as number;
    const size = shape.reduce((a, b) => a * b, 1);
    const x = Float32Array.from({ length: size }, () => next() * 20 - 10);
    // Ids from -3 to numSegments + 2: repeats, negatives and too-large ids, all of which
    // tfjs drops; at least one repeat and one of each out-of-range kind is forced.
    const ids = Int32Array.from({ length: rows }, () => Math.floor(next() * (numSegments + 6)) - 3);
    ids[0] = -1;
    ids[1] = numSegments;
    ids[2] = 0;
    ids[3] = 0;
    const run = () =>
      tf.tidy(() =>
        tf
          .unsortedSegmentSum(tf.tensor(x, shape), tf.tensor1d(ids, "int32"), numSegments)
          .arraySync(),
      );
    const stock = await on("stock-cpu", run);
    const wasm = await on("wasm", run);
    const cpu = await on("cpu", run);
    expect(tf.util.flatten(wasm as number[])).toHaveLength(numSegments * (size / rows));
    expect(wasm).toEqual(stock);
    expect(cpu).toEqual(stock);
  });

  it.each(["wasm", "cpu"] as const)(
    "sums int32 values exactly and drops out-of-range rows (%s)",
    async (backend) => {
      const result = await on(backend, () =>
        tf.tidy(() =>
          tf
            .unsortedSegmentSum(
              tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2], "int32"),
              tf.tensor1d([2, -1, 2, 3], "int32"),
              3,
            )
            .arraySync(),
        ),
      );
      expect(result).toEqual([
        [0, 0],
        [0, 0],
        [6, 8],
      ]);
    },
  );
});

describe("the embedding gradient on wasm", () => {
  const config = {
    ...DEFAULT_MODEL_CONFIG,
    vocabSize: 50,
    maxLen: 6,
    embeddingDim: 8,
    hiddenUnits: 8,
    dropout: 0, // dropout is random: the two backends must see the same function
    seed: 7,
  };
  const next = seededFloats(99);
  // Left-padded prefixes with repeated items, so gradient rows accumulate several contributions.
  const sequences = Int32Array.from({ length: 12 * config.maxLen }, (_, i) =>
    i % config.maxLen < 2 ? 0 : 2 + Math.floor(next() * 10),
  );
  const targets = Int32Array.from({ length: 12 }, () => 2 + Math.floor(next() * 48));

  /** d(loss)/d(embedding matrix) for a model holding `weights`, on the active backend. */
  function embeddingGradient(weights: { values: Float32Array; shape: number[] }[]): number[][] {
    const model = buildModel(config);
    model.setWeights(weights.map((w) => tf.tensor(w.values, w.shape)));
    // LayerVariable.read() returns the tf.Variable itself, which variableGrads needs.
    const embedding = model.getLayer("item_embedding").trainableWeights[0]?.read() as tf.Variable;
    const { value, grads } = tf.variableGrads(() => {
      const probs = model.apply(tf.tensor2d(sequences, [12, config.maxLen], "int32"), {
        training: true,
      }) as tf.Tensor2D;
      const picked = tf.sum(
        tf.mul(probs, tf.oneHot(tf.tensor1d(targets, "int32"), config.vocabSize)),
        1,
      );
      return tf.neg(tf.mean(tf.log(picked))) as tf.Scalar;
    }, [embedding]);
    const gradient = grads[embedding.name]?.arraySync() as number[][];
    tf.dispose([value, grads[embedding.name] as tf.Tensor]);
    model.dispose();
    return gradient;
  }

  it("equals the cpu backend's (with tfjs's own kernel) within 1e-5, on wasm and on cpu", async () => {
    const weights = await on("cpu", () =>
      buildModel(config)
        .getWeights()
        .map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape })),
    );
    const cpu = await on("stock-cpu", () => embeddingGradient(weights));
    const wasm = await on("wasm", () => embeddingGradient(weights));
    const fastCpu = await on("cpu", () => embeddingGradient(weights));

    const used = new Set(sequences.filter((id) => id !== 0));
    for (let row = 0; row < config.vocabSize; row++) {
      const cpuRow = cpu[row] as number[];
      const wasmRow = wasm[row] as number[];
      // The test means something only if used rows get a gradient and unused rows none.
      expect(
        cpuRow.some((v) => v !== 0),
        `row ${row}`,
      ).toBe(used.has(row));
      cpuRow.forEach((v, i) => {
        expect(Math.abs((wasmRow[i] as number) - v), `wasm row ${row} col ${i}`).toBeLessThan(1e-5);
        expect(Math.abs((fastCpu[row]?.[i] as number) - v), `cpu row ${row} col ${i}`).toBeLessThan(
          1e-5,
        );
      });
    }
  });

  it("fails on wasm without the kernel (so the test above exercises it)", async () => {
    const weights = await on("cpu", () =>
      buildModel(config)
        .getWeights()
        .map((w) => ({ values: w.dataSync() as Float32Array, shape: w.shape })),
    );
    tf.unregisterKernel("UnsortedSegmentSum", "wasm");
    try {
      await expect(on("wasm", () => embeddingGradient(weights))).rejects.toThrow(
        /UnsortedSegmentSum/,
      );
    } finally {
      registerSegmentSum("wasm");
    }
    expect(tf.getKernel("UnsortedSegmentSum", "wasm")).toBeDefined();
  });
});
