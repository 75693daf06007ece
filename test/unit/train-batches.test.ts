/**
 * Training batches (pipeline/train/batches.ts): what each layout makes of a session, that every
 * target comes out exactly once per epoch whatever the shuffle, that rows are length-bucketed
 * (a batch is padded to its own longest row), and that a seed and epoch fix the order.
 */
import { describe, expect, it } from "vitest";
import { seededFloats } from "../../pipeline/prng.ts";
import { UNKNOWN_ID } from "../../pipeline/model/sequences.ts";
import {
  countTargets,
  epochBatches,
  type BatchPlan,
  type TrainBatch,
} from "../../pipeline/train/batches.ts";
import { sessionBlock } from "../../pipeline/model/sessions.ts";

/** Every loss row of a batch as "input ids read so far → target". */
function lossRows(batch: TrainBatch): string[] {
  return [...batch.positions].map((position, i) => {
    const row = position % batch.rows;
    const step = Math.floor(position / batch.rows);
    const inputs = batch.inputs.subarray(row * batch.steps, row * batch.steps + step + 1);
    return `${inputs.join(" ")} → ${batch.targets[i]}`;
  });
}

function all(batches: Iterable<TrainBatch>): { rows: string[]; batches: TrainBatch[] } {
  const list = [...batches];
  return { rows: list.flatMap(lossRows), batches: list };
}

describe("what a session becomes", () => {
  const block = sessionBlock([[2, 3, 4, 2], [5, UNKNOWN_ID, 3], [6]]);

  it("sequence: one row per session, a loss at every known position", () => {
    const { rows, batches } = all(
      epochBatches(block, { mode: "sequence", maxLen: 20, batchSize: 100 }),
    );
    expect(batches).toHaveLength(1);
    // Bucketed by length: the 2-step row first. The unknown target (5 → ?) is not a loss row;
    // the unknown id stays an input.
    expect(rows).toEqual(["5 1 → 3", "2 → 3", "2 3 → 4", "2 3 4 → 2"]);
    expect(batches[0]?.rows).toBe(2);
    expect(batches[0]?.steps).toBe(3);
    expect(countTargets(block, { mode: "sequence", maxLen: 20, batchSize: 100 })).toBe(4);
  });

  it("all-prefixes: every prefix its own row; last: only the full history", () => {
    const prefixes = all(epochBatches(block, { mode: "all-prefixes", maxLen: 2, batchSize: 100 }));
    // maxLen 2 keeps each prefix's last two items.
    expect(prefixes.rows.sort()).toEqual(["2 → 3", "2 3 → 4", "3 4 → 2", "5 1 → 3"].sort());
    expect(prefixes.batches[0]?.rows).toBe(4);
    const last = all(epochBatches(block, { mode: "last", maxLen: 20, batchSize: 100 }));
    expect(last.rows.sort()).toEqual(["2 3 4 → 2", "5 1 → 3"].sort());
  });

  it("cuts a long session into windows of maxLen + 1, each target once, none seeing more than maxLen items", () => {
    const long = sessionBlock([Array.from({ length: 12 }, (_, i) => 2 + i)]);
    const { rows } = all(epochBatches(long, { mode: "sequence", maxLen: 5, batchSize: 100 }));
    expect(rows.map((r) => Number(r.split("→ ")[1])).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 11 }, (_, i) => 3 + i),
    );
    for (const row of rows) expect(row.split(" → ")[0]?.split(" ").length).toBeLessThanOrEqual(5);
    // The second window starts at item 5: its first target (item 6) sees one item, as inference
    // would after a cut — a window never reads the items before it.
    expect(rows).toContain("7 → 8");
  });
});

describe("an epoch of generated sessions", () => {
  const next = seededFloats(11);
  const sessions = Array.from({ length: 600 }, () =>
    Array.from({ length: 1 + Math.floor(next() ** 2 * 30) }, () => 2 + Math.floor(next() * 50)),
  );
  const block = sessionBlock(sessions);
  const plans: BatchPlan[] = [
    { mode: "sequence", maxLen: 8, batchSize: 64 },
    { mode: "all-prefixes", maxLen: 8, batchSize: 64 },
  ];

  it.each(plans)("$mode: every target exactly once per epoch, shuffled or not", (plan) => {
    const ordered = all(epochBatches(block, plan)).rows;
    expect(ordered).toHaveLength(countTargets(block, plan));
    const first = all(epochBatches(block, plan, { seed: 3, epoch: 1 })).rows;
    expect([...first].sort()).toEqual([...ordered].sort());
    // The same seed and epoch, the same order; another epoch, another order.
    expect(all(epochBatches(block, plan, { seed: 3, epoch: 1 })).rows).toEqual(first);
    const second = all(epochBatches(block, plan, { seed: 3, epoch: 2 })).rows;
    expect(second).not.toEqual(first);
    expect([...second].sort()).toEqual([...ordered].sort());
  });

  it.each(plans)("$mode: batches are length-bucketed and hold about batchSize targets", (plan) => {
    const { batches } = all(epochBatches(block, plan, { seed: 5, epoch: 1 }));
    let padding = 0;
    let cells = 0;
    for (const batch of batches) {
      expect(batch.targets.length).toBeGreaterThan(0);
      // A batch is cut once it reaches batchSize targets: a row adds at most maxLen more.
      expect(batch.targets.length).toBeLessThan(plan.batchSize + plan.maxLen);
      let longest = 0;
      for (let r = 0; r < batch.rows; r++) {
        let length = 0;
        while (length < batch.steps && batch.inputs[r * batch.steps + length] !== 0) length++;
        longest = Math.max(longest, length);
        padding += batch.steps - length;
      }
      expect(longest).toBe(batch.steps);
      cells += batch.rows * batch.steps;
    }
    // Sorted within windows of many batches, rows of a batch have similar lengths: little padding.
    expect(padding / cells).toBeLessThan(0.1);
  });
});
