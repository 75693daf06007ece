/**
 * One optimisation step of the next-item model, with a choice of loss:
 *
 * - `full`: softmax cross-entropy over the whole vocabulary, computed from the output layer's
 *   logits as logsumexp(logits) − logit[target]. The same objective as the compiled model's
 *   sparse categorical cross-entropy, without the [batch, vocab] one-hot target and the clipped
 *   log of probabilities that tfjs-layers builds for it.
 * - `sampled`: a sampled softmax (Jean et al. 2015, TensorFlow's sampled_softmax_loss) for
 *   training only: each row scores its target against `negatives` items drawn uniformly for the
 *   whole batch, so the output layer costs O(batch × negatives) instead of O(batch × vocab). With
 *   uniform sampling the log-probability correction is the same for every class and cancels.
 *   A negative that equals a row's target is masked out of that row (TF's remove_accidental_hits).
 *   Evaluation and prediction always use the full softmax (`model.predict`, `topK`).
 *
 * Both train the same `tf.Sequential` that `buildModel` makes, through its own optimizer, so a
 * model trained either way is saved, evaluated and served identically.
 */
import * as tf from "@tensorflow/tfjs";
import { FIRST_ITEM_ID } from "./sequences.ts";
import { Rng, seedWords } from "../prng.ts";

/** The negative sampler's stream, apart from every other use of the seed. */
const NEGATIVES_STREAM = 0x4e45_4753;

export type LossKind = "full" | "sampled";

export interface StepOptions {
  loss: LossKind;
  /** Items drawn per step for the sampled loss (ignored by `full`). */
  negatives: number;
  /** Seed of the negative sampler, so a run is repeatable. */
  seed: number;
  /**
   * Steps already taken (a resumed run): step n's negatives depend only on (seed, n), so a run
   * resumed at step n draws what an uninterrupted one would.
   */
  startStep?: number;
}

export const DEFAULT_STEP_OPTIONS: StepOptions = { loss: "full", negatives: 1024, seed: 42 };

export interface TrainStep {
  /** Runs one step on a [batch, maxLen] id block and its [batch] targets; returns the batch loss. */
  (sequences: tf.Tensor2D, targets: tf.Tensor1D): number;
}

/** The parts of a `buildModel` model a custom step needs. */
function split(model: tf.Sequential) {
  const output = model.layers[model.layers.length - 1];
  const hidden = model.layers[model.layers.length - 2];
  if (!output || !hidden || output.getClassName() !== "Dense") {
    throw new Error(
      "trainStep: expected a model whose last layer is the Dense output layer (see buildModel)",
    );
  }
  // A functional view sharing the model's layers up to the output layer: applying it keeps the
  // embedding's padding mask flowing into the recurrent layer, which applying layers one by one
  // would drop.
  const encoder = tf.model({ inputs: model.inputs, outputs: hidden.output as tf.SymbolicTensor });
  // LayerVariable.read() returns the tf.Variable itself.
  const [kernel, bias] = output.trainableWeights.map((w) => w.read() as tf.Variable);
  if (!kernel || !bias) throw new Error("trainStep: the output layer needs a kernel and a bias");
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return { encoder, kernel, bias, variables };
}

/** Creates the step function for a compiled `buildModel` model. */
export function createTrainStep(
  model: tf.Sequential,
  options: StepOptions = DEFAULT_STEP_OPTIONS,
): TrainStep {
  const optimizer = model.optimizer;
  if (!optimizer) throw new Error("trainStep: compile the model first (buildModel does)");
  const { encoder, kernel, bias, variables } = split(model);
  const vocab = bias.shape[0] as number;
  const items = vocab - FIRST_ITEM_ID;
  if (options.loss === "sampled" && !(options.negatives >= 1 && options.negatives < items)) {
    throw new RangeError(
      `sampled loss: negatives must be between 1 and ${items - 1}, got ${options.negatives}`,
    );
  }
  let step = options.startStep ?? 0;

  /** Each row's logit for its own target: a row-wise dot product with the target's column. */
  const targetLogits = (h: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor1D =>
    tf.add(tf.sum(tf.mul(h, tf.transpose(tf.gather(kernel, ids, 1))), 1), tf.gather(bias, ids));

  const fullLoss = (h: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar => {
    const logits = tf.add(tf.matMul(h, kernel), bias);
    return tf.mean(tf.sub(tf.logSumExp(logits, 1), targetLogits(h, tf.cast(targets, "int32"))));
  };

  const sampledLoss = (h: tf.Tensor2D, targets: tf.Tensor1D): tf.Scalar => {
    const ids = tf.cast(targets, "int32");
    const rng = Rng.from(...seedWords(options.seed), NEGATIVES_STREAM, step);
    const drawn = Int32Array.from(
      { length: options.negatives },
      () => FIRST_ITEM_ID + Math.floor(rng.float() * items),
    );
    const negatives = tf.tensor1d(drawn, "int32");
    const positive = targetLogits(h, ids);
    // Negative logits, [batch, negatives], with accidental hits pushed to -inf (well, -1e9).
    const hits = tf.equal(tf.expandDims(ids, 1), tf.expandDims(negatives, 0));
    const negativeLogits = tf.where(
      hits,
      tf.fill(hits.shape, -1e9),
      tf.add(tf.matMul(h, tf.gather(kernel, negatives, 1)), tf.gather(bias, negatives)),
    );
    const all = tf.concat([tf.expandDims(positive, 1), negativeLogits], 1);
    return tf.mean(tf.sub(tf.logSumExp(all, 1), positive));
  };

  const loss = options.loss === "sampled" ? sampledLoss : fullLoss;
  return (sequences, targets) => {
    const cost = optimizer.minimize(
      () => {
        const h = encoder.apply(sequences, { training: true }) as tf.Tensor2D; // one input, one output
        return loss(h, targets);
      },
      true,
      variables,
    );
    step++;
    if (!cost) throw new Error("trainStep: the optimizer returned no loss");
    const value = cost.dataSync()[0] as number;
    cost.dispose();
    return value;
  };
}

/** Mean full-softmax cross-entropy of the model on a batch (no training): what evaluation reports. */
export function fullSoftmaxLoss(
  model: tf.Sequential,
  sequences: tf.Tensor2D,
  targets: tf.Tensor1D,
): number {
  return tf.tidy(() => {
    const probs = model.predict(sequences) as tf.Tensor2D;
    const vocab = probs.shape[1];
    const picked = tf.sum(tf.mul(probs, tf.oneHot(tf.cast(targets, "int32"), vocab)), 1);
    return tf.neg(tf.mean(tf.log(tf.maximum(picked, 1e-7)))).dataSync()[0] as number;
  });
}
