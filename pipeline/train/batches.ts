/**
 * Training batches from the encoded train sessions, held in memory (../model/sessions.ts), in one
 * of these layouts:
 *
 * - `sequence` (GRU4Rec's): a session is read once and the loss is taken at every position —
 *   the state after item t predicts item t + 1 — so a session of n items costs one pass of
 *   n − 1 steps instead of n − 1 separate prefixes. Sessions longer than maxLen + 1 are cut into
 *   windows of maxLen + 1 items, each target in exactly one window, so no target is predicted
 *   from more than the maxLen items inference reads.
 * - `all-prefixes` (the seeds' recipe): every prefix (its last maxLen items) is a separate
 *   example predicting the item after it, shuffled independently of its session.
 *
 * Either way batches are length-bucketed: rows are sorted by length within a window of many
 * batches, so a batch is padded to its own longest row (a three-item session is not unrolled
 * twenty steps), and the batches' order is shuffled. Rows are right-padded (see
 * ./ops/recurrent.ts). A batch is cut when its targets reach `batchSize`, so every step
 * computes about the same loss rows whatever the layout.
 *
 * Targets outside the vocabulary (the unknown id) are never loss rows: the model can never
 * recommend them. As inputs they stay, read as the unknown id.
 */
import { Rng, seedWords } from "../prng.ts";
import { UNKNOWN_ID } from "../model/sequences.ts";
import type { SessionBlock } from "../model/sessions.ts";

export type ExampleMode = "sequence" | "all-prefixes" | "last";

export interface TrainBatch {
  rows: number;
  steps: number;
  /** [rows × steps] input ids, right-padded with 0. */
  inputs: Int32Array;
  /**
   * Loss rows: for step t of row r, index t × rows + r into the network's time-major states
   * (see TrainableNet.states), the state that predicts the matching target.
   */
  positions: Int32Array;
  targets: Int32Array;
}

/** One row of a batch before padding: `length` input ids from `start`, and its loss rows. */
interface Row {
  start: number;
  length: number;
  /** sequence: targets at every position; all-prefixes / last: only at the end. */
  everyPosition: boolean;
}

const SHUFFLE_STREAM = 0x5348_5546;
/** Batches sorted by length together: enough to bucket well, few enough to keep batches mixed. */
const BUCKET_BATCHES = 50;

/** The rows of one pass, in session order. */
function rowsOf(block: SessionBlock, mode: ExampleMode, maxLen: number): Row[] {
  const rows: Row[] = [];
  const sessions = block.offsets.length - 1;
  for (let s = 0; s < sessions; s++) {
    const from = block.offsets[s] as number;
    const n = (block.offsets[s + 1] as number) - from;
    if (n < 2) continue;
    if (mode === "sequence") {
      for (let start = 0; start < n - 1; start += maxLen) {
        const length = Math.min(maxLen, n - 1 - start);
        rows.push({ start: from + start, length, everyPosition: true });
      }
    } else {
      const first = mode === "last" ? n - 1 : 1;
      for (let t = first; t < n; t++) {
        const length = Math.min(t, maxLen);
        rows.push({ start: from + t - length, length, everyPosition: false });
      }
    }
  }
  return rows;
}

/** Loss rows a row contributes (targets that are not the unknown id). */
function targetsOf(row: Row, ids: Int32Array): number {
  if (!row.everyPosition) return ids[row.start + row.length] === UNKNOWN_ID ? 0 : 1;
  let n = 0;
  for (let t = 1; t <= row.length; t++) if (ids[row.start + t] !== UNKNOWN_ID) n++;
  return n;
}

function assemble(rows: readonly Row[], ids: Int32Array): TrainBatch {
  const steps = rows.reduce((m, r) => Math.max(m, r.length), 0);
  const inputs = new Int32Array(rows.length * steps);
  const positions: number[] = [];
  const targets: number[] = [];
  rows.forEach((row, r) => {
    inputs.set(ids.subarray(row.start, row.start + row.length), r * steps);
    for (let t = row.everyPosition ? 0 : row.length - 1; t < row.length; t++) {
      const target = ids[row.start + t + 1] as number;
      if (target === UNKNOWN_ID) continue;
      positions.push(t * rows.length + r);
      targets.push(target);
    }
  });
  return {
    rows: rows.length,
    steps,
    inputs,
    positions: Int32Array.from(positions),
    targets: Int32Array.from(targets),
  };
}

export interface BatchPlan {
  mode: ExampleMode;
  maxLen: number;
  /** Loss rows per batch (the last batch of a bucket may hold fewer). */
  batchSize: number;
}

/** Loss rows in one pass (what an epoch trains on). */
export function countTargets(block: SessionBlock, plan: BatchPlan): number {
  return rowsOf(block, plan.mode, plan.maxLen).reduce((n, r) => n + targetsOf(r, block.ids), 0);
}

/**
 * One epoch's batches, shuffled by (seed, epoch); without `shuffle`, in session order (still
 * bucketed), as validation reads them.
 */
export function* epochBatches(
  block: SessionBlock,
  plan: BatchPlan,
  shuffle?: { seed: number; epoch: number },
): Generator<TrainBatch, void, undefined> {
  const rows = rowsOf(block, plan.mode, plan.maxLen);
  const rng = shuffle
    ? Rng.from(...seedWords(shuffle.seed), SHUFFLE_STREAM, shuffle.epoch)
    : undefined;
  if (rng) rng.shuffle(rows);
  const window = plan.batchSize * BUCKET_BATCHES;
  let start = 0;
  while (start < rows.length) {
    // A window of rows holding about BUCKET_BATCHES batches' targets, sorted by length.
    let end = start;
    let targets = 0;
    while (end < rows.length && targets < window)
      targets += targetsOf(rows[end++] as Row, block.ids);
    const bucket = rows.slice(start, end).sort((a, b) => a.length - b.length);
    const cut: Row[][] = [];
    let current: Row[] = [];
    let currentTargets = 0;
    for (const row of bucket) {
      const n = targetsOf(row, block.ids);
      if (n === 0) continue;
      current.push(row);
      currentTargets += n;
      if (currentTargets >= plan.batchSize) {
        cut.push(current);
        current = [];
        currentTargets = 0;
      }
    }
    if (current.length > 0) cut.push(current);
    if (rng) rng.shuffle(cut);
    for (const rowsOfBatch of cut) yield assemble(rowsOfBatch, block.ids);
    start = end;
  }
}
