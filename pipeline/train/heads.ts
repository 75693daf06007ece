/**
 * The training losses on top of the network's hidden states, for rows of (hidden state,
 * target id):
 *
 * - `full`: softmax cross-entropy over the whole vocabulary (the seeds' recipe).
 * - `sampled`: softmax cross-entropy over the batch's candidates only — every distinct target
 *   of the batch (in-batch negatives) plus `negatives` items drawn from the train popularity
 *   raised to `alpha` (GRU4Rec's popularity-smoothed extra samples; Hidasi & Czapp, RecSys'23) —
 *   with the logQ correction (Yi et al., RecSys'19): each candidate's logit is lowered by
 *   `logQ × log q(item)`, so that items sampled often are not pushed down merely for being
 *   sampled often. Each row's label is its target's column; a drawn negative equal to a target
 *   of the batch is dropped (it is in the batch already), so no row meets its own target twice.
 *   Evaluation and serving always rank with the full vocabulary.
 *
 * Draws come from the host's seeded stream for (seed, step), so a resumed run draws what the
 * uninterrupted one did.
 */
import * as tf from "@tensorflow/tfjs";
import { Rng, seedWords } from "../prng.ts";
import type { TrainableNet } from "./net.ts";
import { softmaxHead } from "./ops/softmax-head.ts";
import { FIRST_ITEM_ID } from "../model/sequences.ts";

const NEGATIVES_STREAM = 0x4e45_4753;

export type LossKind = "full" | "sampled";

export interface SampledOptions {
  negatives: number;
  /** Exponent of the train popularity the negatives are drawn from (0: uniform, 1: popularity). */
  alpha: number;
  /** Strength of the logQ correction (0: none, 1: the full correction). */
  logQ: number;
}

/** The mean loss of `hidden` rows [n, units] against `targets` (n ids). */
export type Head = (
  net: TrainableNet,
  hidden: tf.Tensor2D,
  targets: Int32Array,
  step: number,
) => tf.Scalar;

export const fullSoftmax: Head = (net, hidden, targets) =>
  softmaxHead(
    hidden,
    net.outputMatrix(),
    net.variable("output/bias") as tf.Tensor as tf.Tensor1D,
    targets,
  );

/**
 * Walker's alias table over the real items' `count^alpha`: one draw is one uniform index and
 * one coin, O(1), whatever the vocabulary.
 */
class AliasSampler {
  private readonly probability: Float64Array;
  private readonly alias: Int32Array;
  /** log q(id) for every id (−∞ for padding and unknown). */
  readonly logQ: Float32Array;

  constructor(counts: ArrayLike<number>, alpha: number) {
    const n = counts.length - FIRST_ITEM_ID;
    const weights = Float64Array.from({ length: n }, (_, i) =>
      Math.pow(Math.max(counts[i + FIRST_ITEM_ID] ?? 0, 1), alpha),
    );
    const total = weights.reduce((a, b) => a + b, 0);
    this.logQ = new Float32Array(counts.length).fill(Number.NEGATIVE_INFINITY);
    weights.forEach((w, i) => (this.logQ[i + FIRST_ITEM_ID] = Math.log(w / total)));
    this.probability = new Float64Array(n);
    this.alias = new Int32Array(n);
    const scaled = weights.map((w) => (w * n) / total);
    const small: number[] = [];
    const large: number[] = [];
    scaled.forEach((p, i) => (p < 1 ? small : large).push(i));
    while (small.length > 0 && large.length > 0) {
      const s = small.pop() as number;
      const l = large[large.length - 1] as number;
      this.probability[s] = scaled[s] as number;
      this.alias[s] = l;
      scaled[l] = (scaled[l] as number) + (scaled[s] as number) - 1;
      if ((scaled[l] as number) < 1) small.push(large.pop() as number);
    }
    for (const i of [...small, ...large]) this.probability[i] = 1;
  }

  draw(rng: Rng): number {
    const i = rng.int(this.probability.length);
    return (
      FIRST_ITEM_ID +
      (rng.float() < (this.probability[i] as number) ? i : (this.alias[i] as number))
    );
  }
}

export interface Candidates {
  /** Distinct candidate ids: the batch's distinct targets first, then the drawn negatives. */
  ids: Int32Array;
  /** Each row's column in `ids`. */
  labels: Int32Array;
}

/** The candidate set of one batch (exported for tests). */
export function batchCandidates(
  targets: Int32Array,
  draw: () => number,
  negatives: number,
): Candidates {
  const column = new Map<number, number>();
  const labels = new Int32Array(targets.length);
  targets.forEach((t, row) => {
    let c = column.get(t);
    if (c === undefined) column.set(t, (c = column.size));
    labels[row] = c;
  });
  for (let i = 0; i < negatives; i++) {
    const id = draw();
    if (!column.has(id)) column.set(id, column.size);
  }
  return { ids: Int32Array.from(column.keys()), labels };
}

/**
 * The sampled head for a vocabulary with these train counts (index = id; padding and unknown
 * count 0 and are never drawn).
 */
export function sampledSoftmax(
  counts: ArrayLike<number>,
  options: SampledOptions,
  seed: number,
): Head {
  const sampler = new AliasSampler(counts, options.alpha);
  return (net, hidden, targets, step) => {
    const rng = Rng.from(...seedWords(seed), NEGATIVES_STREAM, step);
    const { ids, labels } = batchCandidates(targets, () => sampler.draw(rng), options.negatives);
    const columns = tf.tensor1d(ids, "int32");
    // The output matrix's candidate columns, [units, candidates].
    const weights = net.config.tied
      ? tf.transpose(net.embed(ids))
      : tf.gather(net.variable("output/kernel"), columns, 1);
    const bias = tf.gather(net.variable("output/bias"), columns);
    const shift =
      options.logQ === 0
        ? undefined
        : Float32Array.from(ids, (id) => -options.logQ * (sampler.logQ[id] as number));
    return softmaxHead(hidden, weights as tf.Tensor2D, bias as tf.Tensor1D, labels, shift);
  };
}
