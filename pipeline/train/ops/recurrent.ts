/**
 * The recurrent layers as one differentiable op each (`tf.customGrad`), instead of tfjs-layers'
 * unrolled graph of ~150 small kernels per time step and an autodiff tape over all of them.
 *
 * Forward: the input projections of every step are one GEMM ([batch × steps, in] · [in, gates]);
 * each step is then one recurrent GEMM and a few element-wise kernels. Backward is written out
 * (backpropagation through time): each step's gate gradients are collected, and the weight
 * gradients are three GEMMs over all steps at the end, not one per step.
 *
 * The equations are Keras's (see pipeline/model/net.ts), so a layer trained here is the layer
 * the seeds' recipe describes, and the inference runtime reads its weights as they are.
 *
 * Batches are right-padded: a row's real steps come first, so its state never reads padding
 * before its real items and no mask is needed; the outputs at a row's padded steps are simply
 * not read by the loss, so no gradient flows into them. (Keras left-pads and masks; starting
 * from a zero state at the first real item, both give the same outputs.)
 */
import * as tf from "@tensorflow/tfjs";

export interface RecurrentWeights {
  /** [in, gates × units] */
  kernel: tf.Tensor2D;
  /** [units, gates × units] */
  recurrent: tf.Tensor2D;
  /** [gates × units] */
  bias: tf.Tensor1D;
}

/**
 * Every step's output state from a zero initial state. Inputs and outputs are time-major rows:
 * row t × batch + r is step t of sequence r (`inputs` [steps × batch, in], the result
 * [steps × batch, units]), so a step's rows are one contiguous block: slicing a step out and
 * joining the steps back are plain copies.
 */
export type RecurrentOp = (
  inputs: tf.Tensor2D,
  batch: number,
  weights: RecurrentWeights,
) => tf.Tensor2D;

/** σ'(·) from σ's output: s·(1 − s). */
const sigmoidGrad = (dy: tf.Tensor, s: tf.Tensor) => tf.mul(dy, tf.mul(s, tf.sub(1, s)));
/** tanh'(·) from tanh's output: 1 − t². */
const tanhGrad = (dy: tf.Tensor, t: tf.Tensor) => tf.mul(dy, tf.sub(1, tf.square(t)));

interface Shapes {
  batch: number;
  steps: number;
  units: number;
}

function shapesOf(x: tf.Tensor2D, batch: number, recurrent: tf.Tensor2D): Shapes {
  if (x.shape[0] % batch !== 0) {
    throw new RangeError(
      `recurrent op: ${x.shape[0]} input rows is not a whole number of steps of ${batch}`,
    );
  }
  return { batch, steps: x.shape[0] / batch, units: recurrent.shape[0] };
}

/**
 * What both cells start with: the op's arguments (x, kernel, recurrent, bias, save), the shapes,
 * and x·W + b for every step at once.
 */
function prologue(args: (tf.Tensor | tf.GradSaveFunc)[], batch: number) {
  const [x, kernel, recurrent, bias, save] = args as [
    tf.Tensor2D,
    tf.Tensor2D,
    tf.Tensor2D,
    tf.Tensor1D,
    tf.GradSaveFunc,
  ];
  const projected: tf.Tensor2D = tf.add(tf.matMul(x, kernel), bias);
  return {
    x,
    kernel,
    recurrent,
    save,
    s: shapesOf(x, batch, recurrent),
    projected,
  };
}

/** Step t's rows of a time-major [steps × batch, n] matrix. */
function stepRows(x: tf.Tensor2D, t: number, batch: number): tf.Tensor2D {
  return tf.slice(x, [t * batch, 0], [batch, x.shape[1]]);
}

/**
 * The weight and input gradients every cell ends with, from the gate gradients of all steps
 * (time-major rows, like the inputs): dKernel = Xᵀ·dA, dBias = Σ dA, dX = dA·Kernelᵀ. The sum
 * over rows is a product with a row of ones: wasm reduces only along the last axis, and sums
 * along the first by transposing (3.5 ms for a [258, 192] matrix, against 0.1 ms this way).
 */
function inputGradients(x: tf.Tensor2D, kernel: tf.Tensor2D, gateGrads: tf.Tensor2D) {
  const rows = gateGrads.shape[0];
  return {
    dx: tf.matMul(gateGrads, tf.transpose(kernel)),
    dKernel: tf.matMul(tf.transpose(x), gateGrads),
    dBias: tf.reshape(tf.matMul(tf.ones([1, rows]), gateGrads), [gateGrads.shape[1]]),
  };
}

/**
 * GRU, reset gate applied before the recurrent product (tfjs-layers' and Keras 2's default):
 * z = σ(x·W_z + h·U_z + b_z), r = σ(x·W_r + h·U_r + b_r), h̃ = tanh(x·W_h + (r ⊙ h)·U_h + b_h),
 * h' = z ⊙ h + (1 − z) ⊙ h̃.
 */
export const gru: RecurrentOp = (inputs, batch, weights) => {
  const op = tf.customGrad((...args) => {
    const { x, kernel, recurrent, save, s, projected } = prologue(args, batch);
    const u = s.units;
    const b = s.batch;
    const uZr = tf.slice(recurrent, [0, 0], [u, 2 * u]);
    const uH = tf.slice(recurrent, [0, 2 * u], [u, u]);
    let h: tf.Tensor2D = tf.zeros([b, u]);
    const outputs: tf.Tensor2D[] = [];
    // Saved per step, in this order: h (previous state), z, r, r ⊙ h, h̃.
    const saved: tf.Tensor2D[] = [];
    for (let t = 0; t < s.steps; t++) {
      const xw = stepRows(projected, t, b);
      const zr = tf.sigmoid(
        tf.add(tf.slice(xw, [0, 0], [b, 2 * u]), tf.matMul(h, uZr)),
      ) as tf.Tensor2D;
      const z = tf.slice(zr, [0, 0], [b, u]);
      const r = tf.slice(zr, [0, u], [b, u]);
      const rh = tf.mul(r, h);
      const candidate = tf.tanh(tf.add(tf.slice(xw, [0, 2 * u], [b, u]), tf.matMul(rh, uH)));
      const next: tf.Tensor2D = tf.add(candidate, tf.mul(z, tf.sub(h, candidate)));
      saved.push(h, z, r, rh as tf.Tensor2D, candidate as tf.Tensor2D);
      outputs.push(next);
      h = next;
    }
    save([x, kernel, recurrent, ...saved]);
    return {
      value: tf.concat(outputs, 0),
      gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => {
        const [x0, kernel0, recurrent0, ...perStep] = kept as tf.Tensor2D[];
        const uZrT = tf.transpose(tf.slice(recurrent0 as tf.Tensor2D, [0, 0], [u, 2 * u]));
        const uHT = tf.transpose(tf.slice(recurrent0 as tf.Tensor2D, [0, 2 * u], [u, u]));
        const dZr: tf.Tensor2D[] = new Array<tf.Tensor2D>(s.steps);
        const dCandidate: tf.Tensor2D[] = new Array<tf.Tensor2D>(s.steps);
        let dh: tf.Tensor2D | undefined;
        for (let t = s.steps - 1; t >= 0; t--) {
          const [hPrev, z, r, , candidate] = perStep.slice(5 * t, 5 * t + 5) as [
            tf.Tensor2D,
            tf.Tensor2D,
            tf.Tensor2D,
            tf.Tensor2D,
            tf.Tensor2D,
          ];
          const out = stepRows(dy as tf.Tensor2D, t, b);
          const g = dh ? tf.add(out, dh) : out;
          const da = tanhGrad(tf.mul(g, tf.sub(1, z)), candidate) as tf.Tensor2D;
          const dRh = tf.matMul(da, uHT);
          const dzr = tf.concat(
            [
              sigmoidGrad(tf.mul(g, tf.sub(hPrev, candidate)), z),
              sigmoidGrad(tf.mul(dRh, hPrev), r),
            ],
            1,
          ) as tf.Tensor2D;
          dh = tf.add(tf.add(tf.mul(g, z), tf.mul(dRh, r)), tf.matMul(dzr, uZrT)) as tf.Tensor2D;
          dZr[t] = dzr;
          dCandidate[t] = da;
        }
        const hPrevRows = tf.concat(
          perStep.filter((_, i) => i % 5 === 0),
          0,
        );
        const rhRows = tf.concat(
          perStep.filter((_, i) => i % 5 === 3),
          0,
        );
        const dZrRows = tf.concat(dZr, 0);
        const dCandidateRows = tf.concat(dCandidate, 0);
        const dRecurrent = tf.concat(
          [
            tf.matMul(tf.transpose(hPrevRows), dZrRows),
            tf.matMul(tf.transpose(rhRows), dCandidateRows),
          ],
          1,
        );
        const gates = tf.concat([dZrRows, dCandidateRows], 1);
        const { dx, dKernel, dBias } = inputGradients(
          x0 as tf.Tensor2D,
          kernel0 as tf.Tensor2D,
          gates,
        );
        return [dx, dKernel, dRecurrent, dBias];
      },
    };
  });
  return op(inputs, weights.kernel, weights.recurrent, weights.bias) as tf.Tensor2D;
};

/**
 * LSTM, gates in Keras's order i, f, c, o: a = x·W + h·U + b; c' = σ(a_f) ⊙ c + σ(a_i) ⊙ tanh(a_c);
 * h' = σ(a_o) ⊙ tanh(c').
 */
export const lstm: RecurrentOp = (inputs, batch, weights) => {
  const op = tf.customGrad((...args) => {
    const { x, kernel, recurrent, save, s, projected } = prologue(args, batch);
    const u = s.units;
    const b = s.batch;
    let h: tf.Tensor2D = tf.zeros([b, u]);
    let c: tf.Tensor2D = tf.zeros([b, u]);
    const outputs: tf.Tensor2D[] = [];
    // Saved per step, in this order: c (previous), the activated gates [i, f, tanh(a_c), o],
    // tanh(c'); and every step's h (previous) for the recurrent kernel's gradient.
    const saved: tf.Tensor2D[] = [];
    const previous: tf.Tensor2D[] = [];
    for (let t = 0; t < s.steps; t++) {
      const a = tf.add(stepRows(projected, t, b), tf.matMul(h, recurrent));
      const sig = tf.sigmoid(a);
      const i = tf.slice(sig, [0, 0], [b, u]);
      const f = tf.slice(sig, [0, u], [b, u]);
      const o = tf.slice(sig, [0, 3 * u], [b, u]);
      const g = tf.tanh(tf.slice(a, [0, 2 * u], [b, u]));
      const nextC: tf.Tensor2D = tf.add(tf.mul(f, c), tf.mul(i, g));
      const tc = tf.tanh(nextC);
      const nextH: tf.Tensor2D = tf.mul(o, tc);
      saved.push(c, tf.concat([i, f, g, o], 1) as tf.Tensor2D, tc as tf.Tensor2D);
      previous.push(h);
      outputs.push(nextH);
      h = nextH;
      c = nextC;
    }
    save([x, kernel, recurrent, tf.concat(previous, 0), ...saved]);
    return {
      value: tf.concat(outputs, 0),
      gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => {
        const [x0, kernel0, recurrent0, hPrevRows, ...perStep] = kept as tf.Tensor2D[];
        const uT = tf.transpose(recurrent0 as tf.Tensor2D);
        const dGates: tf.Tensor2D[] = new Array<tf.Tensor2D>(s.steps);
        let dh: tf.Tensor2D | undefined;
        let dc: tf.Tensor2D | undefined;
        for (let t = s.steps - 1; t >= 0; t--) {
          const [cPrev, gates, tc] = perStep.slice(3 * t, 3 * t + 3) as [
            tf.Tensor2D,
            tf.Tensor2D,
            tf.Tensor2D,
          ];
          const i = tf.slice(gates, [0, 0], [b, u]);
          const f = tf.slice(gates, [0, u], [b, u]);
          const g = tf.slice(gates, [0, 2 * u], [b, u]);
          const o = tf.slice(gates, [0, 3 * u], [b, u]);
          const out = stepRows(dy as tf.Tensor2D, t, b);
          const gh = dh ? tf.add(out, dh) : out;
          const fromH = tanhGrad(tf.mul(gh, o), tc);
          const gc = (dc ? tf.add(dc, fromH) : fromH) as tf.Tensor2D;
          const da = tf.concat(
            [
              sigmoidGrad(tf.mul(gc, g), i),
              sigmoidGrad(tf.mul(gc, cPrev), f),
              tanhGrad(tf.mul(gc, i), g),
              sigmoidGrad(tf.mul(gh, tc), o),
            ],
            1,
          ) as tf.Tensor2D;
          dh = tf.matMul(da, uT) as tf.Tensor2D;
          dc = tf.mul(gc, f) as tf.Tensor2D;
          dGates[t] = da;
        }
        const gateRows = tf.concat(dGates, 0);
        const dRecurrent = tf.matMul(tf.transpose(hPrevRows as tf.Tensor2D), gateRows);
        const { dx, dKernel, dBias } = inputGradients(
          x0 as tf.Tensor2D,
          kernel0 as tf.Tensor2D,
          gateRows,
        );
        return [dx, dKernel, dRecurrent, dBias];
      },
    };
  });
  return op(inputs, weights.kernel, weights.recurrent, weights.bias) as tf.Tensor2D;
};

export const RECURRENT_OPS = { gru, lstm } as const;
