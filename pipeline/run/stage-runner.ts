/**
 * Runs one stage and records it in the run store (`runs/<id>/<stage>/stage.json`), whether it
 * succeeded or failed, so `pipeline runs show ID` tells what happened and `--from` can resume.
 * A memoized stage first looks for an earlier run with its key (memo.ts) and reuses it.
 */
import { shownSettings } from "../config/shown-settings.ts";
import { StageFailure } from "../errors.ts";
import { writeStageRecord, type StageInput, type StageRecord } from "../store/runs.ts";
import type { RunContext } from "./context.ts";
import {
  copyStageOutputs,
  findReusable,
  rememberKey,
  stageCache,
  type CacheKeyParts,
} from "./memo.ts";
import { gitSha, pullRequest, versions } from "./versions.ts";

/** How a stage is memoized: its key's parts, and what else must hold to reuse an earlier run. */
export interface StageMemo {
  parts: () => Promise<CacheKeyParts>;
  /** E.g. the warehouse still holds the tables the earlier run built. */
  stillValid?: (earlier: StageRecord) => Promise<boolean>;
  /** Called before the stage runs (not when reused). */
  beforeRun?: () => Promise<void>;
  /** Called once the stage has run and succeeded (not when reused). */
  afterRun?: (key: string) => Promise<void>;
}

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
  memo?: StageMemo,
): Promise<T> {
  const startedAt = new Date();
  const sha = gitSha();
  const pr = pullRequest();
  const base = {
    runId: ctx.runId,
    stage,
    startedAt: startedAt.toISOString(),
    versions: versions(),
    settings: shownSettings(ctx.config),
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
  const cache = memo ? stageCache(stage, await memo.parts()) : undefined;
  if (memo && cache && ctx.cache !== false) {
    await ctx.stageCache?.restore(stage, cache.key);
    const earlier = await findReusable(ctx.store, stage, cache.key, ctx.runId);
    if (earlier && (!memo.stillValid || (await memo.stillValid(earlier)))) {
      const copied = await copyStageOutputs(ctx.store, earlier, ctx.runId);
      const result = copied.rewrite(earlier.result) as T;
      await writeStageRecord(ctx.store, {
        ...base,
        ...finish(),
        status: "succeeded",
        inputs: earlier.inputs,
        outputs: copied.rewrite(earlier.outputs),
        counts: earlier.counts,
        result,
        cache,
        reused: { runId: earlier.runId, mode: "copied", files: copied.files },
      });
      ctx.reporter.info(
        `  reused from run ${earlier.runId}: same data, code and settings (key ${cache.key.slice(0, 12)}; --no-cache runs it again)`,
      );
      return result;
    }
  }
  let outcome: StageOutcome<T>;
  try {
    await memo?.beforeRun?.();
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
    ...(cache ? { cache } : {}),
  });
  if (memo && cache) {
    await rememberKey(ctx.store, stage, cache.key, ctx.runId);
    await ctx.stageCache?.save(stage, cache.key);
    await memo.afterRun?.(cache.key);
  }
  return outcome.result;
}
