/**
 * The fused recurrent ops (pipeline/train/ops/recurrent.ts) against tfjs-layers' own LSTM and
 * GRU cells: the same outputs on the same weights, the same gradients (tfjs autodiff through the
 * layers' unrolled graph), and a numerical gradient check — on every backend the trainer uses
 * here (wasm with this project's kernels, and cpu).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { seededFloats } from "../../pipeline/prng.ts";
import { selectBackend } from "../../pipeline/train/backend.ts";
import { RECURRENT_OPS } from "../../pipeline/train/ops/recurrent.ts";

const BATCH = 5;
const STEPS = 4;
const INPUT = 6;
const UNITS = 3;
const GATES = { lstm: 4, gru: 3 } as const;

beforeAll(async () => {
  await selectBackend("cpu");
  await selectBackend("wasm");
});

interface Case {
  cell: "lstm" | "gru";
  x: Float32Array; // batch-major [BATCH, STEPS, INPUT]
  kernel: Float32Array;
  recurrent: Float32Array;
  bias: Float32Array;
  /** Weights of the loss Σ w ⊙ outputs, batch-major [BATCH, STEPS, UNITS]. */
  lossWeights: Float32Array;
}

function randomCase(cell: "lstm" | "gru", seed: number): Case {
  const next = seededFloats(seed);
  const uniform = (n: number, scale: number) =>
    Float32Array.from({ length: n }, () => (next() * 2 - 1) * scale);
  const gates = GATES[cell] * UNITS;
  return {
    cell,
    x: uniform(BATCH * STEPS * INPUT, 1),
    kernel: uniform(INPUT * gates, 0.6),
    recurrent: uniform(UNITS * gates, 0.6),
    bias: uniform(gates, 0.3),
    lossWeights: uniform(BATCH * STEPS * UNITS, 1),
  };
}

/** Batch-major [BATCH, STEPS, n] ↔ time-major [STEPS × BATCH, n]. */
function toTimeMajor(values: Float32Array, n: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let b = 0; b < BATCH; b++)
    for (let t = 0; t < STEPS; t++)
      out.set(values.subarray((b * STEPS + t) * n, (b * STEPS + t + 1) * n), (t * BATCH + b) * n);
  return out;
}

type Grads = { x: Float32Array; kernel: Float32Array; recurrent: Float32Array; bias: Float32Array };

/** Loss, outputs (batch-major) and gradients with the fused op. */
function fused(c: Case): { loss: number; outputs: Float32Array; grads: Grads } {
  return tf.tidy(() => {
    const gates = GATES[c.cell] * UNITS;
    const x = tf.tensor2d(toTimeMajor(c.x, INPUT), [STEPS * BATCH, INPUT]);
    const kernel = tf.tensor2d(c.kernel, [INPUT, gates]);
    const recurrent = tf.tensor2d(c.recurrent, [UNITS, gates]);
    const bias = tf.tensor1d(c.bias);
    const w = tf.tensor2d(toTimeMajor(c.lossWeights, UNITS), [STEPS * BATCH, UNITS]);
    const f = (a: tf.Tensor, k: tf.Tensor, r: tf.Tensor, b: tf.Tensor) =>
      tf.sum(
        tf.mul(
          RECURRENT_OPS[c.cell](a as tf.Tensor2D, BATCH, {
            kernel: k as tf.Tensor2D,
            recurrent: r as tf.Tensor2D,
            bias: b as tf.Tensor1D,
          }),
          w,
        ),
      );
    const { value, grads } = tf.valueAndGrads(f)([x, kernel, recurrent, bias]);
    const outputs = RECURRENT_OPS[c.cell](x, BATCH, { kernel, recurrent, bias });
    const back = (t: tf.Tensor, n: number) => {
      // time-major → batch-major
      const v = t.dataSync() as Float32Array;
      const out = new Float32Array(v.length);
      for (let b = 0; b < BATCH; b++)
        for (let s = 0; s < STEPS; s++)
          out.set(v.subarray((s * BATCH + b) * n, (s * BATCH + b + 1) * n), (b * STEPS + s) * n);
      return out;
    };
    return {
      loss: value.dataSync()[0] as number,
      outputs: back(outputs, UNITS),
      grads: {
        x: back(grads[0] as tf.Tensor, INPUT),
        kernel: (grads[1] as tf.Tensor).dataSync() as Float32Array,
        recurrent: (grads[2] as tf.Tensor).dataSync() as Float32Array,
        bias: (grads[3] as tf.Tensor).dataSync() as Float32Array,
      },
    };
  });
}

/** The same with tfjs-layers' cell (its unrolled graph, autodiff). */
function layers(c: Case): { loss: number; outputs: Float32Array; grads: Grads } {
  const layer = (c.cell === "lstm" ? tf.layers.lstm : tf.layers.gru)({
    units: UNITS,
    returnSequences: true,
    recurrentActivation: "sigmoid",
  });
  return tf.tidy(() => {
    layer.apply(tf.zeros([1, STEPS, INPUT])); // builds the weights
    const gates = GATES[c.cell] * UNITS;
    const kernel = tf.variable(tf.tensor2d(c.kernel, [INPUT, gates]));
    const recurrent = tf.variable(tf.tensor2d(c.recurrent, [UNITS, gates]));
    const bias = tf.variable(tf.tensor1d(c.bias));
    layer.setWeights([kernel, recurrent, bias]);
    const weightVars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    const x = tf.tensor3d(c.x, [BATCH, STEPS, INPUT]);
    const w = tf.tensor3d(c.lossWeights, [BATCH, STEPS, UNITS]);
    const { value, grads } = tf.valueAndGrads((input: tf.Tensor) =>
      tf.sum(tf.mul(layer.apply(input) as tf.Tensor, w)),
    )([x]);
    const varGrads = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, w)) as tf.Scalar,
      weightVars,
    );
    const outputs = (layer.apply(x) as tf.Tensor).dataSync() as Float32Array;
    const byVar = weightVars.map((v) => varGrads.grads[v.name]?.dataSync() as Float32Array);
    layer.dispose();
    return {
      loss: value.dataSync()[0] as number,
      outputs,
      grads: {
        x: (grads[0] as tf.Tensor).dataSync() as Float32Array,
        kernel: byVar[0] as Float32Array,
        recurrent: byVar[1] as Float32Array,
        bias: byVar[2] as Float32Array,
      },
    };
  });
}

function expectClose(
  actual: Float32Array,
  expected: Float32Array,
  tolerance: number,
  what: string,
) {
  expect(actual.length, what).toBe(expected.length);
  actual.forEach((v, i) => {
    const e = expected[i] as number;
    expect(Math.abs(v - e), `${what}[${i}]: ${v} vs ${e}`).toBeLessThanOrEqual(
      tolerance * Math.max(1, Math.abs(e)),
    );
  });
}

describe.each(["wasm", "cpu"] as const)("fused recurrent ops on %s", (backend) => {
  it.each(["lstm", "gru"] as const)(
    "%s: the outputs and gradients of tfjs-layers' cell, on the same weights",
    async (cell) => {
      await tf.setBackend(backend);
      const c = randomCase(cell, cell === "lstm" ? 11 : 12);
      const ours = fused(c);
      const theirs = layers(c);
      expectClose(ours.outputs, theirs.outputs, 1e-5, "outputs");
      expect(Math.abs(ours.loss - theirs.loss)).toBeLessThan(1e-4);
      for (const key of ["x", "kernel", "recurrent", "bias"] as const) {
        expectClose(ours.grads[key], theirs.grads[key], 1e-4, `d${key}`);
      }
    },
  );

  it.each(["lstm", "gru"] as const)("%s: gradients match central differences", async (cell) => {
    await tf.setBackend(backend);
    const c = randomCase(cell, cell === "lstm" ? 21 : 22);
    const { grads } = fused(c);
    const eps = 1e-2;
    // Every bias entry, and a spread of kernel, recurrent and input entries.
    for (const key of ["bias", "kernel", "recurrent", "x"] as const) {
      const values = c[key];
      const step = Math.max(1, Math.floor(values.length / 12));
      for (let i = 0; i < values.length; i += step) {
        const original = values[i] as number;
        values[i] = original + eps;
        const up = fused(c).loss;
        values[i] = original - eps;
        const down = fused(c).loss;
        values[i] = original;
        const numeric = (up - down) / (2 * eps);
        const analytic = grads[key][i] as number;
        expect(Math.abs(analytic - numeric), `${key}[${i}] ${analytic} vs ${numeric}`).toBeLessThan(
          2e-3 + 2e-2 * Math.abs(numeric),
        );
      }
    }
  });
});
