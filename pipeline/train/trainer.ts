/**
 * The training loop: epochs over the train split's shuffled prefixes, HR@20 on the validation
 * split after each epoch, early stopping that restores the best epoch's weights, and a
 * checkpoint per epoch from which a killed run resumes to the same final weights.
 */
import * as tf from "@tensorflow/tfjs";
import { PipelineError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import type { EpochRecord, TrainingHistory } from "./artifact.ts";
import type { CheckpointStore } from "./checkpoint.ts";
import { type Checkpoint } from "./checkpoint.ts";
import { batches, type Batch, type ExampleMode, type MartRelations } from "./dataset.ts";
import { buildModel, dropoutCalls, setDropoutCalls, topK, type ModelConfig } from "./model.ts";
import { createTrainStep, type LossKind } from "./step.ts";
import type { Vocabulary } from "./vocabulary.ts";

export interface TrainingOptions {
  epochs: number;
  batchSize: number;
  mode: ExampleMode;
  loss: LossKind;
  /** Items drawn per step for the sampled loss. */
  negatives: number;
  /** Epochs without a better validation HR@20 before stopping (0: never stop early). */
  patience: number;
  /** Validation examples HR@20 is computed on each epoch (the first ones in session-key order). */
  validationExamples: number;
  shuffleBuffer: number;
}

export interface TrainerInput {
  warehouse: Warehouse;
  vocabulary: Vocabulary;
  model: ModelConfig;
  options: TrainingOptions;
  reporter: Reporter;
  /** Train examples per epoch, for the progress bar's ETA. */
  trainExamples: number;
  checkpoints?: CheckpointStore;
  /** Identifies data + settings; a checkpoint with another fingerprint is not resumed. */
  fingerprint: string;
  /** Continue from the last checkpoint when there is one. */
  resume: boolean;
  relations?: MartRelations;
  /** Validation ranks without each prefix's last item, as the predictor will (artifact.ts). */
  excludeLastItem?: boolean;
}

export interface TrainerResult {
  model: tf.Sequential;
  history: TrainingHistory;
  /** Epochs finished before this process started (0 without a checkpoint). */
  resumedFromEpoch: number;
  steps: number;
}

/** Validation examples, read once and kept in memory (bounded by `validationExamples`). */
async function loadValidation(input: TrainerInput): Promise<Batch[]> {
  const { options } = input;
  const kept: Batch[] = [];
  let total = 0;
  for await (const batch of batches(input.warehouse, input.vocabulary, {
    split: "validation",
    mode: options.mode,
    maxLen: input.model.maxLen,
    batchSize: 1024,
    ...(input.relations ? { relations: input.relations } : {}),
  })) {
    const take = Math.min(batch.size, options.validationExamples - total);
    kept.push(
      take === batch.size
        ? batch
        : {
            size: take,
            maxLen: batch.maxLen,
            inputs: batch.inputs.subarray(0, take * batch.maxLen),
            targets: batch.targets.subarray(0, take),
          },
    );
    total += take;
    if (total >= options.validationExamples) break;
  }
  return kept;
}

/** HR@20 of the model on in-memory validation batches. */
export async function hitRateAt20(
  model: tf.LayersModel,
  validation: readonly Batch[],
  excludeLast = false,
): Promise<{ hr20: number; examples: number }> {
  let hits = 0;
  let examples = 0;
  // A vocabulary smaller than 20 real items caps k (topK never returns padding or unknown).
  const k = Math.min(20, (model.outputs[0]?.shape[1] ?? 23) - (excludeLast ? 3 : 2));
  for (const batch of validation) {
    const top = await topK(model, batch.inputs.subarray(0, batch.size * batch.maxLen), k, {
      excludeLast,
    });
    for (let row = 0; row < batch.size; row++) {
      const target = batch.targets[row] as number;
      for (let j = 0; j < k; j++) {
        if (top.ids[row * k + j] === target) {
          hits++;
          break;
        }
      }
    }
    examples += batch.size;
  }
  return { hr20: examples === 0 ? 0 : hits / examples, examples };
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

function snapshot(model: tf.LayersModel): tf.Tensor[] {
  return model.getWeights().map((w) => w.clone());
}

export async function trainModel(input: TrainerInput): Promise<TrainerResult> {
  const { options, reporter } = input;
  const model = buildModel(input.model);
  const optimizer = model.optimizer;
  if (!optimizer) throw new Error("trainModel: buildModel returned an uncompiled model");

  let state: Omit<Checkpoint, "weights" | "optimizer" | "best"> = {
    epoch: 0,
    step: 0,
    dropoutCalls: 0,
    history: [],
    bestEpoch: 0,
    bestHr20: -1,
    fingerprint: input.fingerprint,
  };
  let best: tf.Tensor[] = [];
  let resumedFromEpoch = 0;
  const saved = input.resume ? await input.checkpoints?.loadLatest() : undefined;
  if (saved) {
    if (saved.fingerprint !== input.fingerprint) {
      tf.dispose([...saved.weights, ...saved.optimizer.map((o) => o.tensor), ...saved.best]);
      throw new PipelineError(
        "cannot resume training: the checkpoint was made with other data or settings",
        1,
        "resume with the settings the run started with, or start a new run (without --resume / --run-id)",
      );
    }
    model.setWeights(saved.weights);
    await optimizer.setWeights(saved.optimizer);
    restoreAdamPowers(optimizer, saved.adamPowers);
    tf.dispose([...saved.weights, ...saved.optimizer.map((o) => o.tensor)]);
    best = saved.best;
    const { weights: _w, optimizer: _o, best: _b, ...rest } = saved;
    state = rest;
    resumedFromEpoch = saved.epoch;
    setDropoutCalls(model, saved.dropoutCalls);
    reporter.info(
      `resuming training after epoch ${saved.epoch} (best validation HR@20 ${saved.bestHr20.toFixed(4)} at epoch ${saved.bestEpoch})`,
    );
  }

  const validation = await loadValidation(input);
  const step = createTrainStep(model, {
    loss: options.loss,
    negatives: options.negatives,
    seed: input.model.seed,
    startStep: state.step,
  });
  const stopped = () =>
    options.patience > 0 && state.epoch - state.bestEpoch >= options.patience && state.epoch > 0;

  while (state.epoch < options.epochs && !stopped()) {
    const epoch = state.epoch + 1;
    const started = performance.now();
    const bar = reporter.progress(`epoch ${epoch}/${options.epochs}`, input.trainExamples, "seq");
    let lossSum = 0;
    let steps = 0;
    let seen = 0;
    for await (const batch of batches(input.warehouse, input.vocabulary, {
      split: "train",
      mode: options.mode,
      maxLen: input.model.maxLen,
      batchSize: options.batchSize,
      shuffle: { seed: input.model.seed, epoch, buffer: options.shuffleBuffer },
      ...(input.relations ? { relations: input.relations } : {}),
    })) {
      const x = tf.tensor2d(batch.inputs, [batch.size, batch.maxLen], "int32");
      const y = tf.tensor1d(batch.targets, "int32");
      const loss = step(x, y);
      tf.dispose([x, y]);
      if (!Number.isFinite(loss)) {
        bar.stop();
        throw new PipelineError(
          `training diverged at epoch ${epoch}, step ${state.step + steps + 1}: the loss is ${loss}`,
          1,
          "lower --learning-rate, or check the data for degenerate sessions",
        );
      }
      lossSum += loss * batch.size;
      seen += batch.size;
      steps++;
      bar.update(seen, seen);
    }
    bar.stop();
    const seconds = (performance.now() - started) / 1000;
    const { hr20, examples } = await hitRateAt20(model, validation, input.excludeLastItem);
    const record: EpochRecord = {
      epoch,
      loss: seen === 0 ? 0 : lossSum / seen,
      validationHr20: hr20,
      validationExamples: examples,
      seconds,
      sequencesPerSecond: seconds > 0 ? seen / seconds : 0,
    };
    const improved = hr20 > state.bestHr20;
    if (improved) {
      tf.dispose(best);
      best = snapshot(model);
    }
    state = {
      ...state,
      epoch,
      step: state.step + steps,
      dropoutCalls: dropoutCalls(model),
      history: [...state.history, record],
      ...(improved ? { bestEpoch: epoch, bestHr20: hr20 } : {}),
    };
    reporter.info(
      `epoch ${epoch}/${options.epochs}: loss ${record.loss.toFixed(4)}, validation HR@20 ${hr20.toFixed(4)} (${examples} examples)${improved ? " ★" : ""}, ${Math.round(record.sequencesPerSecond)} seq/s, ${seconds.toFixed(1)} s`,
    );
    if (input.checkpoints) {
      const weights = model.getWeights();
      const powers = readAdamPowers(optimizer);
      await input.checkpoints.save({
        ...state,
        ...(powers ? { adamPowers: powers } : {}),
        weights,
        optimizer: await optimizer.getWeights(),
        best,
      });
    }
  }

  const stoppedEarly = state.epoch < options.epochs;
  if (stoppedEarly) {
    reporter.info(
      `early stopping: no better validation HR@20 for ${options.patience} epoch(s); keeping epoch ${state.bestEpoch}`,
    );
  }
  if (best.length > 0) {
    model.setWeights(best);
    tf.dispose(best);
  }
  return {
    model,
    history: { epochs: state.history, bestEpoch: state.bestEpoch, stoppedEarly },
    resumedFromEpoch,
    steps: state.step,
  };
}
