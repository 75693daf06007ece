/**
 * The training loop: epochs of length-bucketed batches (./batches.ts) through the network
 * (./net.ts) and its loss (./heads.ts), HR@20 on the validation split after each epoch, early
 * stopping that restores the best epoch's weights, and a checkpoint per epoch from which a
 * killed run resumes to the same final weights.
 *
 * Everything random — initial weights, dropout masks, negative samples, batch order — is a
 * function of (seed, epoch or step), so a run resumed from epoch n's checkpoint repeats exactly
 * what the uninterrupted run did after epoch n.
 */
import * as tf from "@tensorflow/tfjs";
import { PipelineError } from "../errors.ts";
import type { EpochRecord, TrainingHistory } from "../model/artifact.ts";
import type { NetConfig } from "../model/net.ts";
import { FIRST_ITEM_ID, PAD_ID, UNKNOWN_ID } from "../model/sequences.ts";
import type { Reporter } from "../reporter.ts";
import { epochBatches, type BatchPlan, type ExampleMode } from "./batches.ts";
import type { SessionBlock } from "../model/sessions.ts";
import type { Checkpoint, CheckpointStore } from "./checkpoint.ts";
import { fullSoftmax, sampledSoftmax, type Head, type LossKind } from "./heads.ts";
import type { ItemFeatures } from "./item-features.ts";
import { initialWeights, TrainableNet } from "./net.ts";

export interface TrainingOptions {
  epochs: number;
  /** Loss rows (targets) per step. */
  batchSize: number;
  mode: ExampleMode;
  loss: LossKind;
  /** Negatives drawn per step by the sampled loss. */
  negatives: number;
  /** Exponent of the popularity the sampled loss draws negatives from. */
  sampleAlpha: number;
  /** Strength of the sampled loss's logQ correction. */
  logQ: number;
  learningRate: number;
  dropout: number;
  /** Start the output bias at the items' log-frequency. */
  popularityBias: boolean;
  /** Epochs without a better validation HR@20 before stopping (0: never stop early). */
  patience: number;
  /**
   * How much better (relative) an epoch's validation HR@20 must be to reset the patience: the
   * best epoch is kept either way, but crawling gains do not keep a long training going.
   */
  minImprovement: number;
  /** Validation prefixes HR@20 is computed on each epoch (the first ones in session order). */
  validationExamples: number;
}

export interface TrainerInput {
  net: NetConfig;
  seed: number;
  train: SessionBlock;
  validation: SessionBlock;
  /** Train interactions per id (0 for padding and unknown): the sampler and the bias start. */
  counts: Float64Array;
  /** Item side information (see item-features.ts); none: items are their embeddings alone. */
  features?: ItemFeatures;
  options: TrainingOptions;
  reporter: Reporter;
  /** Loss rows per epoch, for the progress bar's ETA. */
  trainTargets: number;
  checkpoints?: CheckpointStore;
  /** Identifies data + settings; a checkpoint with another fingerprint is not resumed. */
  fingerprint: string;
  /** Continue from the last checkpoint when there is one. */
  resume: boolean;
  /** Validation ranks without each prefix's last item, as the predictor will. */
  excludeLastItem: boolean;
}

export interface TrainerResult {
  /** The kept (best) epoch's weights, as the artifact stores them (features folded in). */
  weights: Map<string, Float32Array>;
  history: TrainingHistory;
  /** Epochs finished before this process started (0 without a checkpoint). */
  resumedFromEpoch: number;
  steps: number;
}

/** Adam's private running powers β1^t, β2^t (see CheckpointState.adamPowers). */
interface AdamPowers {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

function readAdamPowers(optimizer: tf.Optimizer): [number, number] | undefined {
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  if (!accBeta1 || !accBeta2) return undefined;
  return [accBeta1.dataSync()[0] as number, accBeta2.dataSync()[0] as number];
}

function restoreAdamPowers(optimizer: tf.Optimizer, powers: [number, number] | undefined): void {
  const { accBeta1, accBeta2 } = optimizer as unknown as AdamPowers;
  if (!powers || !accBeta1 || !accBeta2) return;
  accBeta1.assign(tf.scalar(powers[0]));
  accBeta2.assign(tf.scalar(powers[1]));
}

/** The first `examples` validation sessions' worth of prefixes, as one block. */
function validationPrefixes(block: SessionBlock, examples: number): SessionBlock {
  let sessions = 0;
  let prefixes = 0;
  while (sessions + 1 < block.offsets.length && prefixes < examples) {
    const n = (block.offsets[sessions + 1] as number) - (block.offsets[sessions] as number);
    prefixes += Math.max(n - 1, 0);
    sessions++;
  }
  const end = block.offsets[sessions] as number;
  return { offsets: block.offsets.subarray(0, sessions + 1), ids: block.ids.subarray(0, end) };
}

/**
 * HR@20 of the network on the prefixes of `block` whose target is in the vocabulary. Ranks exclude padding, unknown and, with `excludeLast`, the
 * prefix's last item, as the predictor does.
 */
export function hitRateAt20(
  net: TrainableNet,
  block: SessionBlock,
  maxLen: number,
  excludeLast: boolean,
): { hr20: number; examples: number } {
  let hits = 0;
  let examples = 0;
  // Rows per block: the [rows, vocabulary] logits and their temporaries live in the backend's memory, which wasm never gives back.
  const plan: BatchPlan = { mode: "all-prefixes", maxLen, batchSize: 256 };
  for (const batch of epochBatches(block, plan)) {
    // The rank is counted on the backend (how many logits beat the target's), so only one
    // number per row comes back, not a row of the whole vocabulary; the few excluded ids are
    // then taken out on the host.
    const n = batch.targets.length;
    const excluded = new Int32Array(n * 3);
    batch.positions.forEach((position, i) => {
      const row = position % batch.rows;
      const step = Math.floor(position / batch.rows);
      const last = excludeLast ? (batch.inputs[row * batch.steps + step] as number) : PAD_ID;
      excluded.set(
        [PAD_ID, UNKNOWN_ID, last === (batch.targets[i] as number) ? PAD_ID : last],
        i * 3,
      );
    });
    const [ahead, own, blocked] = tf.tidy(() => {
      const states = net.states({ rows: batch.rows, steps: batch.steps, ids: batch.inputs });
      const logits = net.logits(
        tf.gather(states, tf.tensor1d(batch.positions, "int32")) as tf.Tensor2D,
      );
      const rows = tf.range(0, n, 1, "int32");
      const pick = (ids: tf.Tensor1D) =>
        tf.gatherND(logits, tf.stack([rows, ids], 1) as tf.Tensor2D) as tf.Tensor1D;
      const targetLogits = pick(tf.tensor1d(batch.targets, "int32"));
      // step(x) is 1 for x > 0, else 0: the logits above the target's. (tf.greater against a
      // broadcast column takes wasm's slow path: 500 ms for a [1024, 8736] block, 20 ms this way.)
      const beat = tf.sum(tf.step(tf.sub(logits, tf.expandDims(targetLogits, 1))), 1);
      const excludedLogits = tf.reshape(
        tf.gather(
          tf.reshape(logits, [-1]),
          tf.tensor1d(
            excluded.map((id, j) => Math.floor(j / 3) * net.config.vocabSize + id),
            "int32",
          ),
        ),
        [n, 3],
      );
      return [beat, targetLogits, excludedLogits];
    });
    const [beat, target, other] = [ahead.dataSync(), own.dataSync(), blocked.dataSync()];
    tf.dispose([ahead, own, blocked]);
    for (let i = 0; i < n; i++) {
      examples++;
      let rank = 1 + (beat[i] as number);
      // Padding, unknown and the last item never compete (the last counted once: it may repeat).
      const seen = new Set<number>();
      for (let j = 0; j < 3; j++) {
        const id = excluded[i * 3 + j] as number;
        if (!seen.has(id) && (other[i * 3 + j] as number) > (target[i] as number)) rank--;
        seen.add(id);
      }
      if (rank <= 20) hits++;
    }
  }
  return { hr20: examples === 0 ? 0 : hits / examples, examples };
}

export async function trainModel(input: TrainerInput): Promise<TrainerResult> {
  const { options, reporter } = input;
  const net = new TrainableNet(
    input.net,
    initialWeights(input.net, {
      seed: input.seed,
      ...(options.popularityBias ? { outputBiasCounts: input.counts } : {}),
      ...(input.features ? { featureCount: input.features.count } : {}),
    }),
    input.features,
  );
  const optimizer = tf.train.adam(options.learningRate);
  const variables = [...net.variables.values()];
  const items = input.net.vocabSize - FIRST_ITEM_ID;
  const head: Head =
    options.loss === "sampled" && options.negatives < items
      ? sampledSoftmax(
          input.counts,
          { negatives: options.negatives, alpha: options.sampleAlpha, logQ: options.logQ },
          input.seed,
        )
      : fullSoftmax;

  let state: Omit<Checkpoint, "weights" | "optimizer" | "best"> = {
    epoch: 0,
    step: 0,
    history: [],
    bestEpoch: 0,
    bestHr20: -1,
    gainEpoch: 0,
    fingerprint: input.fingerprint,
  };
  let best: Map<string, Float32Array> | undefined;
  let resumedFromEpoch = 0;
  try {
    const saved = input.resume ? await input.checkpoints?.loadLatest() : undefined;
    if (saved) {
      if (saved.fingerprint !== input.fingerprint) {
        tf.dispose(saved.optimizer.map((o) => o.tensor));
        throw new PipelineError(
          "cannot resume training: the checkpoint was made with other data or settings",
          1,
          "resume with the settings the run started with, or start a new run (without --resume / --run-id)",
        );
      }
      net.assign(saved.weights);
      // Adam creates its moment variables on the first step; make them, then overwrite them.
      await optimizer.setWeights(saved.optimizer);
      restoreAdamPowers(optimizer, saved.adamPowers);
      tf.dispose(saved.optimizer.map((o) => o.tensor));
      best = saved.best;
      const { weights: _w, optimizer: _o, best: _b, ...rest } = saved;
      state = rest;
      resumedFromEpoch = saved.epoch;
      reporter.info(
        `resuming training after epoch ${saved.epoch} (best validation HR@20 ${saved.bestHr20.toFixed(4)} at epoch ${saved.bestEpoch})`,
      );
    }

    const validation = validationPrefixes(input.validation, options.validationExamples);
    const plan: BatchPlan = {
      mode: options.mode,
      maxLen: input.net.maxLen,
      batchSize: options.batchSize,
    };
    const stopped = () =>
      options.patience > 0 && state.epoch - state.gainEpoch >= options.patience && state.epoch > 0;

    while (state.epoch < options.epochs && !stopped()) {
      const epoch = state.epoch + 1;
      const started = performance.now();
      const bar = reporter.progress(
        `epoch ${epoch}/${options.epochs}`,
        input.trainTargets,
        "targets",
      );
      let lossSum = 0;
      let seen = 0;
      let step = state.step;
      for (const batch of epochBatches(input.train, plan, { seed: input.seed, epoch })) {
        const at = step;
        const cost = optimizer.minimize(
          () => {
            const states = net.states(
              { rows: batch.rows, steps: batch.steps, ids: batch.inputs },
              { rate: options.dropout, seed: input.seed, step: at },
            );
            const rows = tf.gather(states, tf.tensor1d(batch.positions, "int32")) as tf.Tensor2D;
            return head(net, rows, batch.targets, at);
          },
          true,
          variables,
        );
        step++;
        const loss = cost?.dataSync()[0] ?? Number.NaN;
        cost?.dispose();
        if (!Number.isFinite(loss)) {
          bar.stop();
          throw new PipelineError(
            `training diverged at epoch ${epoch}, step ${step}: the loss is ${loss}`,
            1,
            "lower --learning-rate, or check the data for degenerate sessions",
          );
        }
        lossSum += loss * batch.targets.length;
        seen += batch.targets.length;
        bar.update(seen, seen);
      }
      bar.stop();
      const seconds = (performance.now() - started) / 1000;
      const { hr20, examples } = hitRateAt20(
        net,
        validation,
        input.net.maxLen,
        input.excludeLastItem,
      );
      const record: EpochRecord = {
        epoch,
        loss: seen === 0 ? 0 : lossSum / seen,
        validationHr20: hr20,
        validationExamples: examples,
        seconds,
        sequencesPerSecond: seconds > 0 ? seen / seconds : 0,
      };
      const improved = hr20 > state.bestHr20;
      const gained = hr20 > state.bestHr20 * (1 + options.minImprovement);
      if (improved) best = await net.weights();
      state = {
        ...state,
        epoch,
        step,
        history: [...state.history, record],
        ...(improved ? { bestEpoch: epoch, bestHr20: hr20 } : {}),
        ...(gained ? { gainEpoch: epoch } : {}),
      };
      reporter.info(
        `epoch ${epoch}/${options.epochs}: loss ${record.loss.toFixed(4)}, validation HR@20 ${hr20.toFixed(4)} (${examples} examples)${improved ? " ★" : ""}, ${Math.round(record.sequencesPerSecond)} targets/s, ${seconds.toFixed(1)} s`,
      );
      if (input.checkpoints) {
        const powers = readAdamPowers(optimizer);
        await input.checkpoints.save({
          ...state,
          ...(powers ? { adamPowers: powers } : {}),
          weights: await net.weights(),
          optimizer: await optimizer.getWeights(),
          best: best ?? (await net.weights()),
        });
      }
    }

    const stoppedEarly = state.epoch < options.epochs;
    if (stoppedEarly) {
      reporter.info(
        `early stopping: validation HR@20 gained less than ${options.minImprovement * 100}% for ${options.patience} epoch(s); keeping epoch ${state.bestEpoch}`,
      );
    }
    return {
      weights: net.exportWeights(best ?? (await net.weights())),
      history: { epochs: state.history, bestEpoch: state.bestEpoch, stoppedEarly },
      resumedFromEpoch,
      steps: state.step,
    };
  } finally {
    optimizer.dispose();
    net.dispose();
  }
}
