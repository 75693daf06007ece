/**
 * Runs one stage and records it in the run store (`runs/<id>/<stage>/stage.json`), whether it
 * succeeded or failed, so `pipeline runs show ID` tells what happened and `--from` can resume.
 */
import { StageFailure } from "../errors.ts";
import { writeStageRecord, type StageInput, type StageRecord } from "../store/runs.ts";
import type { RunContext } from "./context.ts";
import { gitSha, pullRequest, versions } from "./versions.ts";

export interface StageOutcome<T> {
  result: T;
  inputs: StageInput[];
  outputs: string[];
  counts: Record<string, number>;
}

export async function recordStage<T>(
  ctx: RunContext,
  stage: string,
  body: () => Promise<StageOutcome<T>>,
): Promise<T> {
  const startedAt = new Date();
  const sha = gitSha();
  const pr = pullRequest();
  const base = {
    runId: ctx.runId,
    stage,
    startedAt: startedAt.toISOString(),
    versions: versions(),
    ...(sha ? { gitSha: sha } : {}),
    ...(pr ? { pullRequest: pr } : {}),
  };
  const finish = () => {
    const finishedAt = new Date();
    return {
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    };
  };
  let outcome: StageOutcome<T>;
  try {
    outcome = await body();
  } catch (error) {
    const failed: StageRecord = {
      ...base,
      ...finish(),
      status: "failed",
      inputs: [],
      outputs: [],
      counts: {},
      result: error instanceof StageFailure ? error.result : null,
      error: error instanceof Error ? error.message : String(error),
    };
    await writeStageRecord(ctx.store, failed).catch(() => undefined);
    throw error;
  }
  await writeStageRecord(ctx.store, {
    ...base,
    ...finish(),
    status: "succeeded",
    inputs: outcome.inputs,
    outputs: outcome.outputs,
    counts: outcome.counts,
    result: outcome.result,
  });
  return outcome.result;
}
