/**
 * Training through the real CLI: the artifact, seeded determinism, and a training killed with
 * SIGKILL in the middle of an epoch that resumes from its last checkpoint and ends with exactly
 * the weights of an uninterrupted run.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelArtifact } from "../../pipeline/model/artifact.ts";
import type { TrainResult } from "../../pipeline/train/train.ts";
import { json, runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";

const cwd = tempDir("train-cli-");
const env = {
  MLOPS_SESSIONS: "1500",
  MLOPS_SKUS: "300",
  MLOPS_DBT: "builtin",
  MLOPS_BACKEND: "wasm",
  MLOPS_EPOCHS: "3",
  MLOPS_PATIENCE: "0",
  MLOPS_BATCH_SIZE: "64",
  MLOPS_LOSS: "sampled",
  MLOPS_NEGATIVES: "64",
};
const modelDir = (runId: string) => join(cwd, ".mlops", "runs", runId, "train", "model");
const weights = (runId: string) => readFileSync(join(modelDir(runId), "weights.bin"));

beforeAll(async () => {
  const prepared = await runCli(["run", "--until", "transform"], { cwd, env });
  expect(prepared.code, prepared.stderr).toBe(0);
});

describe("pipeline train", () => {
  let uninterrupted: TrainResult;

  it("trains, reports every epoch and writes a loadable artifact", async () => {
    const result = await runCli(["train", "--run-id", "whole", "--json"], { cwd, env });
    expect(result.code, result.stderr).toBe(0);
    uninterrupted = json<TrainResult & { runId: string }>(result);
    expect(uninterrupted.backend.name).toBe("wasm");
    expect(uninterrupted.history.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    for (const e of uninterrupted.history.epochs) {
      expect(e.loss).toBeGreaterThan(0);
      expect(e.validationHr20).toBeGreaterThanOrEqual(0);
      expect(e.validationHr20).toBeLessThanOrEqual(1);
      expect(e.validationExamples).toBeGreaterThan(0);
    }
    const best = Math.max(...uninterrupted.history.epochs.map((e) => e.validationHr20));
    expect(uninterrupted.bestValidationHr20).toBe(best);

    const artifact = await loadModelArtifact(modelDir("whole"));
    const [prediction] = await artifact.predict([[artifact.vocabulary.sku(2) as string]], 10);
    expect(prediction?.items).toHaveLength(10);
    expect(prediction?.fallback).toBe(false);
    // The blend was fitted on validation and its parts reported.
    expect(artifact.blend.components.map((c) => c.kind)).toEqual([
      "neural",
      "sknn",
      "cooccurrence",
      "repeat",
    ]);
    expect(uninterrupted.blend.validation.candidate.cases).toBeGreaterThan(0);
  });

  it("is deterministic: the same seed gives the same weights", async () => {
    const again = await runCli(["train", "--run-id", "again"], { cwd, env });
    expect(again.code, again.stderr).toBe(0);
    expect(weights("again").equals(weights("whole"))).toBe(true);
  });

  it("resumes a run killed with SIGKILL mid-epoch and ends with the uninterrupted weights", async () => {
    const latest = join(cwd, ".mlops", "runs", "killed", "train", "checkpoint", "latest.json");
    let killed = false;
    const crashed = await runCli(["train", "--run-id", "killed"], {
      cwd,
      env,
      onStderr: (text, kill) => {
        // After epoch 1's checkpoint is written, epoch 2 is under way: kill it there.
        if (!killed && text.includes("epoch 1/3:") && existsSync(latest)) {
          killed = true;
          kill();
        }
      },
    });
    expect(crashed.signal).toBe("SIGKILL");
    expect(crashed.stderr).not.toContain("epoch 3/3:");
    expect(existsSync(join(modelDir("killed"), "weights.bin"))).toBe(false);

    const resumed = await runCli(
      ["run", "--from", "train", "--until", "train", "--run-id", "killed"],
      { cwd, env },
    );
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/resuming training after epoch [12]/);
    expect(
      weights("killed").equals(weights("whole")),
      `${crashed.stderr}\n---\n${resumed.stderr}`,
    ).toBe(true);
    const record = JSON.parse(
      readFileSync(join(cwd, ".mlops", "runs", "killed", "train", "stage.json"), "utf8"),
    ) as { status: string; result: TrainResult };
    expect(record.status).toBe("succeeded");
    expect(record.result.resumedFromEpoch).toBeGreaterThan(0);
    // The same validation figures; the epoch's mean loss is a float sum of per-step losses
    // read back from the backend, equal to about 1e-7.
    const history = record.result.history.epochs;
    expect(history.map((e) => e.validationHr20)).toEqual(
      uninterrupted.history.epochs.map((e) => e.validationHr20),
    );
    history.forEach((e, i) =>
      expect(e.loss).toBeCloseTo(uninterrupted.history.epochs[i]?.loss ?? NaN, 5),
    );
  });

  it("refuses to resume with other settings, naming what to do", async () => {
    const result = await runCli(["train", "--run-id", "killed", "--learning-rate", "0.02"], {
      cwd,
      env,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("cannot resume training");
    expect(result.stderr).toContain("start a new run");
  });

  it("--resume without a run id continues the newest unfinished training, then finds none", async () => {
    // The refused attempt above left run "killed" with a failed train stage and a checkpoint.
    const resumed = await runCli(["train", "--resume"], { cwd, env });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain("resuming run killed");
    expect(weights("killed").equals(weights("whole"))).toBe(true);

    const result = await runCli(["train", "--resume"], { cwd, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no run in .mlops has an unfinished training to resume");
  });
});
