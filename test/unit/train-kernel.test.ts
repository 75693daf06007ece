import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { selectBackend } from "../../pipeline/train/backend.ts";
import type { NetConfig } from "../../pipeline/model/net.ts";
import { fullSoftmax } from "../../pipeline/train/heads.ts";
import { initialWeights, TrainableNet } from "../../pipeline/train/net.ts";
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
  const config: NetConfig = {
    cell: "lstm",
    vocabSize: 50,
    embeddingDim: 8,
    hiddenUnits: 8,
    layers: 1,
    tied: false,
    maxLen: 6,
  };
  const next = seededFloats(99);
  // Right-padded rows with repeated items, so gradient rows accumulate several contributions.
  const rows = 12;
  const ids = Int32Array.from({ length: rows * config.maxLen }, (_, i) =>
    i % config.maxLen >= 4 ? 0 : 2 + Math.floor(next() * 10),
  );
  const targets = Int32Array.from({ length: rows }, () => 2 + Math.floor(next() * 48));
  // The state after each row's fourth item predicts its target (time-major rows).
  const positions = Int32Array.from({ length: rows }, (_, r) => 3 * rows + r);
  const weights = initialWeights(config, { seed: 7 });

  /** d(loss)/d(embedding matrix) on the active backend. */
  function embeddingGradient(): Float32Array {
    const net = new TrainableNet(config, weights);
    const embedding = net.variable("embedding");
    const { value, grads } = tf.variableGrads(() => {
      const states = net.states({ rows, steps: config.maxLen, ids });
      const picked = tf.gather(states, tf.tensor1d(positions, "int32")) as tf.Tensor2D;
      return fullSoftmax(net, picked, targets, 0);
    }, [embedding]);
    const gradient = grads[embedding.name]?.dataSync() as Float32Array;
    tf.dispose([value, ...Object.values(grads)]);
    net.dispose();
    return gradient;
  }

  it("equals the cpu backend's (with tfjs's own kernel) within 1e-5, on wasm and on cpu", async () => {
    const cpu = await on("stock-cpu", embeddingGradient);
    const wasm = await on("wasm", embeddingGradient);
    const fastCpu = await on("cpu", embeddingGradient);
    const used = new Set([...ids].filter((id) => id !== 0));
    const width = config.embeddingDim;
    for (let row = 0; row < config.vocabSize; row++) {
      const cpuRow = cpu.subarray(row * width, (row + 1) * width);
      // The test means something only if used rows get a gradient and unused rows none.
      expect(
        cpuRow.some((v) => v !== 0),
        `row ${row}`,
      ).toBe(used.has(row));
      cpuRow.forEach((v, i) => {
        const at = row * width + i;
        expect(Math.abs((wasm[at] as number) - v), `wasm row ${row} col ${i}`).toBeLessThan(1e-5);
        expect(Math.abs((fastCpu[at] as number) - v), `cpu row ${row} col ${i}`).toBeLessThan(1e-5);
      });
    }
  });

  it("fails on wasm without the kernel (so the test above exercises it)", async () => {
    tf.unregisterKernel("UnsortedSegmentSum", "wasm");
    try {
      await expect(on("wasm", embeddingGradient)).rejects.toThrow(/UnsortedSegmentSum/);
    } finally {
      registerSegmentSum("wasm");
    }
    expect(tf.getKernel("UnsortedSegmentSum", "wasm")).toBeDefined();
  });
});

describe("wasm's transposed matrix products and row gathers", () => {
  const next = seededFloats(21);
  const rand = (shape: number[]) =>
    tf.tensor(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1),
      shape,
    );

  it.each([
    { a: [7, 5], b: [5, 9], ta: false, tb: false },
    { a: [5, 7], b: [5, 9], ta: true, tb: false },
    { a: [7, 5], b: [9, 5], ta: false, tb: true },
    { a: [5, 7], b: [9, 5], ta: true, tb: true },
    { a: [3, 5, 7], b: [3, 9, 5], ta: true, tb: true },
  ])("matMul transposeA $ta transposeB $tb equals the cpu backend's", async ({ a, b, ta, tb }) => {
    const x = await on("cpu", () => rand(a));
    const y = await on("cpu", () => rand(b));
    const [xs, ys] = [x.dataSync(), y.dataSync()];
    const product = () =>
      tf.tidy(() => tf.matMul(tf.tensor(xs, a), tf.tensor(ys, b), ta, tb).dataSync());
    const cpu = await on("cpu", product);
    const wasm = await on("wasm", product);
    wasm.forEach((v, i) => expect(v).toBeCloseTo(cpu[i] as number, 5));
    tf.dispose([x, y]);
  });

  it("gathers rows, single values and other axes as the cpu backend does", async () => {
    const matrix = Float32Array.from({ length: 6 * 4 }, (_, i) => i * 0.5);
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(matrix, [6, 4]);
        return [
          tf.gather(x, tf.tensor1d([5, 0, 5, 2], "int32")).arraySync(),
          tf.gather(tf.tensor1d(matrix), tf.tensor1d([23, 1], "int32")).arraySync(),
          tf.gather(x, tf.tensor1d([3, 1], "int32"), 1).arraySync(),
          tf
            .gather(
              tf.tensor1d([4, 5, 6], "int32"),
              tf.tensor2d(
                [
                  [2, 0],
                  [1, 1],
                ],
                [2, 2],
                "int32",
              ),
            )
            .arraySync(),
        ];
      });
    expect(await on("wasm", run)).toEqual(await on("cpu", run));
    await expect(
      on("wasm", () => tf.gather(tf.tensor2d(matrix, [6, 4]), tf.tensor1d([6], "int32"))),
    ).rejects.toThrow(/index value 6 is not in \[0, 5\]/);
  });
});
