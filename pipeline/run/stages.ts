/**
 * The pipeline's stages in order, each a recorded call of its plain function. `pipeline run`
 * walks this list; `--from` and `--until` cut it.
 */
import { InputError, StageFailure } from "../errors.ts";
import { formatGateTable, formatMetricTable } from "../evaluate/format.ts";
import { failedChecks } from "../evaluate/gates.ts";
import { evaluateRun, type EvaluateResult } from "../evaluate/stage.ts";
import {
  transform,
  transformFailure,
  type TransformOptions,
  type TransformResult,
} from "../transform/transform.ts";
import { cardDataFromRun } from "../../reports/from-run.ts";
import { writeCardArtifacts } from "../../reports/write.ts";
import { trainOnBatch } from "../compute/train-on-batch.ts";
import { promoteRun } from "../promote/promote.ts";
import type { PromoteResult } from "../promote/result.ts";
import { trainLocally, type TrainResult } from "../train/train.ts";
import { upload, type UploadResult } from "../upload/upload.ts";
import { rawTableName } from "../warehouse/raw-tables.ts";
import type { RunContext } from "./context.ts";
import { STAGE_NAMES, type CardResult, type StageName, type StageResults } from "./results.ts";

// The list and its types are declared in results.ts, which code below the stages can import
// without a cycle; callers of the stages find them here too.
export { STAGE_NAMES, type StageName, type StageResults } from "./results.ts";
import { recordStage } from "./stage-runner.ts";
import { evaluateMemo, trainMemo, transformMemo } from "./stage-keys.ts";

export async function uploadStage(ctx: RunContext): Promise<UploadResult> {
  return recordStage(ctx, "upload", async () => {
    const result = await upload({
      config: ctx.config,
      warehouse: await ctx.warehouse(),
      runId: ctx.runId,
      reporter: ctx.reporter,
    });
    return {
      result,
      inputs: result.files.map((f) => ({ name: f.file, sha256: f.sha256, bytes: f.bytes })),
      outputs: result.files.filter((f) => f.status === "loaded").map((f) => rawTableName(f.kind)),
      counts: { ...result.totals, ...result.tables },
    };
  });
}

export async function transformStage(
  ctx: RunContext,
  options: TransformOptions = {},
): Promise<TransformResult> {
  return recordStage(
    ctx,
    "transform",
    async () => {
      const result = await transform({
        config: ctx.config,
        runId: ctx.runId,
        store: ctx.store,
        reporter: ctx.reporter,
        warehouse: { open: () => ctx.warehouse(), release: () => ctx.releaseWarehouse() },
        ...options,
      });
      const failure = transformFailure(result);
      if (failure) throw failure;
      const models = result.dag.nodes.filter((n) => n.type === "model" && n.status === "success");
      return {
        result,
        inputs: result.inputs,
        outputs: [
          ...models.map((n) => n.relation ?? n.name),
          result.artifacts.manifest,
          result.artifacts.runResults,
        ],
        counts: {
          models_built: result.summary.models.success,
          tests_passed: result.summary.tests.pass,
          tests_warned: result.summary.tests.warn,
          ...Object.fromEntries(models.map((n) => [n.name, n.rows ?? 0])),
          ...(result.splits
            ? {
                train_sessions: result.splits.train,
                validation_sessions: result.splits.validation,
                test_sessions: result.splits.test,
              }
            : {}),
        },
      };
    },
    transformMemo(ctx, options),
  );
}

/**
 * Trains the next-item model. A run that already has a training checkpoint (a crash, a killed
 * job) continues from it: `pipeline run --from train --run-id ID` resumes.
 */
export async function trainStage(ctx: RunContext): Promise<TrainResult> {
  return recordStage(
    ctx,
    "train",
    async () => {
      const result =
        ctx.config.train.compute === "batch"
          ? await trainOnBatch(ctx)
          : await trainLocally({
              config: ctx.config,
              runId: ctx.runId,
              store: ctx.store,
              warehouse: await ctx.warehouse(),
              reporter: ctx.reporter,
              resume: true,
            });
      const best = result.history.epochs.find((e) => e.epoch === result.history.bestEpoch);
      return {
        result,
        inputs: [],
        outputs: result.artifact.files,
        counts: {
          epochs: result.epochsRun,
          best_epoch: result.history.bestEpoch,
          vocabulary_size: result.dataset.vocabularySize,
          train_examples: result.dataset.splits.train.kept,
          validation_examples: best?.validationExamples ?? 0,
        },
      };
    },
    trainMemo(ctx),
  );
}

/** Evaluates the run's model and judges the gates; a failed blocking gate fails the stage (exit 1). */
export async function evaluateStage(ctx: RunContext): Promise<EvaluateResult> {
  return recordStage(
    ctx,
    "evaluate",
    async () => {
      const result = await evaluateRun({
        config: ctx.config,
        runId: ctx.runId,
        store: ctx.store,
        warehouse: await ctx.warehouse(),
        reporter: ctx.reporter,
      });
      const failed = failedChecks(result.gates);
      if (!result.gates.passed) {
        throw new StageFailure(
          `${failed.length} blocking gate(s) failed: ${failed.map((c) => c.name).join(", ")}\n${formatMetricTable(result.report)}\n${formatGateTable(result.gates)}`,
          result,
          `the thresholds are in ${result.gatesFile}; the full report is ${ctx.store.location}/${result.artifacts.report}`,
        );
      }
      const hr20 = (name: string) =>
        result.report.recommenders.find((r) => r.name === name)?.metrics["hr@20"].value ?? 0;
      return {
        result,
        // The model files it judged, by hash: what a promotion of this run must still find.
        inputs: result.modelFiles,
        outputs: [
          result.artifacts.report,
          result.artifacts.gates,
          ...(result.artifacts.smokeSessions ? [result.artifacts.smokeSessions] : []),
          ...(result.artifacts.outcomes ? [result.artifacts.outcomes] : []),
        ],
        counts: {
          test_sessions: result.report.counts.evaluatedSessions,
          prefixes: result.report.counts.prefixes,
          recommenders: result.report.recommenders.length,
          checks_failed: failedChecks(result.gates).length,
          checks_warned: result.gates.checks.filter((c) => c.verdict === "warn").length,
          candidate_hr20_permille: Math.round(1000 * hr20(result.report.roles.candidate ?? "")),
        },
      };
    },
    evaluateMemo(ctx),
  );
}

/** Renders the model card and the HTML report from the run's stage records. */
export async function cardStage(ctx: RunContext): Promise<CardResult> {
  return recordStage(ctx, "card", async () => {
    const data = await cardDataFromRun(ctx.store, ctx.runId, {
      config: ctx.config,
      // A folder store on a CI runner travels between jobs as an artifact and then is gone.
      ephemeralStore:
        process.env.GITHUB_ACTIONS === "true" && !ctx.store.location.startsWith("s3://"),
      ...(ctx.configSources ? { sources: ctx.configSources } : {}),
    });
    const written = await writeCardArtifacts(ctx.store, data, {
      reporter: ctx.reporter,
      screenshot: ctx.config.card.screenshot,
    });
    const at = (key: string) => `${ctx.store.location}/${key}`;
    const result: CardResult = {
      card: written.card,
      report: written.report,
      ...(written.screenshot ? { screenshot: written.screenshot } : {}),
      cardChars: written.cardChars,
      paths: {
        card: at(written.card),
        report: at(written.report),
        ...(written.screenshot ? { screenshot: at(written.screenshot) } : {}),
      },
      verdict: data.verdict ? (data.verdict.passed ? "passed" : "failed") : "not evaluated",
    };
    return {
      result,
      inputs: [],
      outputs: [written.card, written.report, ...(written.screenshot ? [written.screenshot] : [])],
      counts: { card_chars: written.cardChars },
    };
  });
}

/** Promotes a winning model to the configured target and records it in the registry. */
export async function promoteStage(
  ctx: RunContext,
  options: { force?: boolean; overrideGates?: boolean } = {},
): Promise<PromoteResult> {
  return recordStage(ctx, "promote", async () => {
    const result = await promoteRun({
      config: ctx.config,
      runId: ctx.runId,
      store: ctx.store,
      warehouse: () => ctx.warehouse(),
      reporter: ctx.reporter,
      ...options,
    });
    return {
      result,
      inputs: [],
      outputs: result.promoted ? ["registry/production.json"] : [],
      counts: { promoted: result.promoted ? 1 : 0 },
    };
  });
}

/** Each stage's function, by name: `STAGES[stage]` returns that stage's own result type. */
export const STAGES: { [S in StageName]: (ctx: RunContext) => Promise<StageResults[S]> } = {
  upload: uploadStage,
  transform: (ctx: RunContext) => transformStage(ctx),
  train: trainStage,
  evaluate: evaluateStage,
  card: cardStage,
  promote: (ctx: RunContext) => promoteStage(ctx),
};

export function stageRange(from?: string, until?: string): StageName[] {
  const index = (name: string | undefined, flag: string, fallback: number) => {
    if (name === undefined) return fallback;
    const i = STAGE_NAMES.findIndex((stage) => stage === name);
    if (i < 0) {
      throw new InputError(
        `unknown stage "${name}" for ${flag}`,
        {},
        `Stages, in order: ${STAGE_NAMES.join(", ")}.`,
      );
    }
    return i;
  };
  const start = index(from, "--from", 0);
  const end = index(until, "--until", STAGE_NAMES.length - 1);
  if (start > end) throw new InputError(`--from ${from} comes after --until ${until}`);
  return STAGE_NAMES.slice(start, end + 1);
}

export async function runPipeline(
  ctx: RunContext,
  stages: StageName[],
): Promise<Partial<StageResults>> {
  const results: Partial<StageResults> = {};
  // Generic in the stage, so each result lands under its own stage's type.
  const run = async <S extends StageName>(stage: S) => {
    results[stage] = await STAGES[stage](ctx);
  };
  for (const [i, stage] of stages.entries()) {
    ctx.reporter.info(`▶ ${stage} (run ${ctx.runId})`);
    try {
      await run(stage);
    } catch (error) {
      // A failed gate still gets its card (the PR comment must say why), then the run fails.
      if (stage === "evaluate" && error instanceof StageFailure && stages.includes("card", i)) {
        ctx.reporter.info(`▶ card (run ${ctx.runId}): the gates failed, writing the card anyway`);
        const card = await cardStage(ctx);
        ctx.reporter.info(`model card: ${card.paths.card}\nHTML report: ${card.paths.report}`);
      }
      throw error;
    }
  }
  return results;
}
