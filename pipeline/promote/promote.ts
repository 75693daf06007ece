/**
 * The promotion stage: reads the run's evaluation (gates, candidate and champion metrics with
 * their paired intervals), decides with `decidePromotion`, deploys a winner to the target
 * (local endpoint or SageMaker), and records it in the registry only once it answered its
 * smoke test. A model that did not win stays out, which is not a failure; a model whose blocking
 * gates failed is refused (exit 1) unless --override-gates.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveImage } from "../compute/images.ts";
import type { Config } from "../config/config.ts";
import { InputError, StageFailure } from "../errors.ts";
import { failedChecks } from "../evaluate/gates.ts";
import type { EvaluateResult } from "../evaluate/stage.ts";
import type { Figure } from "../evaluate/metrics.ts";
import { readSmokeSessions, SMOKE_SESSIONS, smokePrefixes } from "../evaluate/smoke-sessions.ts";
import type { Reporter } from "../reporter.ts";
import { readStageResult } from "../run/results.ts";
import type { StageInput } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import { readSessions } from "../train/dataset.ts";
import { runModelDir } from "../train/fetch-artifact.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { decidePromotion, type MetricsSummary } from "./decision.ts";
import { verifyLocalEndpoint } from "./local-endpoint.ts";
import {
  readProduction,
  recordPromotion,
  recordRollback,
  type DeploymentRecord,
  type RegistryEntry,
} from "../store/registry.ts";
import { deployToSageMaker, sageMakerDeploymentRecord } from "./sagemaker.ts";
import { parseTrafficRouting, type SageMakerSettings } from "./sagemaker-settings.ts";
import type { PromoteResult } from "./result.ts";

export interface PromoteInput {
  config: Config;
  runId: string;
  store: ArtifactStore;
  /** Opened only when the run stored no smoke-test sessions. */
  warehouse: () => Promise<Warehouse>;
  reporter: Reporter;
  force?: boolean;
  overrideGates?: boolean;
}

function estimate(figure: Figure | undefined, what: string): MetricsSummary["hr20"] {
  if (!figure || figure.value === null) {
    throw new InputError(`the evaluation has no ${what} for the candidate`, {}, "re-run evaluate");
  }
  return {
    value: figure.value,
    lower: figure.ci?.low ?? figure.value,
    upper: figure.ci?.high ?? figure.value,
  };
}

function summary(result: EvaluateResult, name: string | null): MetricsSummary | undefined {
  const report = result.report.recommenders.find((r) => r.name === name);
  if (!report) return undefined;
  return {
    hr20: estimate(report.metrics["hr@20"], "HR@20"),
    mrr20: estimate(report.metrics["mrr@20"], "MRR@20"),
    examples: report.metrics["hr@20"].n,
  };
}

/**
 * The smoke test's sessions: those stored by the run's evaluation, else the first test sessions
 * in the warehouse (runs evaluated before the sessions were stored).
 */
async function smokeSessions(input: PromoteInput, runId: string): Promise<string[][]> {
  const stored = await readSmokeSessions(input.store, runId);
  if (stored) return stored;
  const sessions: { items: string[] }[] = [];
  for await (const session of readSessions(await input.warehouse(), {
    split: "test",
    pageSize: SMOKE_SESSIONS,
  })) {
    sessions.push(session);
    if (sessions.length === SMOKE_SESSIONS) break;
  }
  return smokePrefixes(sessions);
}

/** The SageMaker deployment settings from the config (`pipeline doctor` checks the same object). */
export function sageMakerSettings(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): SageMakerSettings {
  const s = config.promote.sagemaker;
  const modelData =
    s.modelData ?? (config.store.startsWith("s3://") ? `${config.store}/sagemaker-models` : "");
  return {
    region: s.region ?? (env.AWS_REGION || undefined) ?? "us-east-1",
    endpointName: s.endpoint,
    // A repository without a tag runs the serve image of this checkout (the images workflow's).
    image: s.image ? resolveImage(s.image, "serve") : "",
    executionRoleArn: s.roleArn ?? "",
    instanceType: s.instanceType,
    instanceCount: s.instanceCount,
    modelData,
    trafficRouting: parseTrafficRouting(s.traffic, 60),
    terminationWaitSeconds: 0,
    maxExecutionTimeoutSeconds: 3600,
    alarms: s.alarms ? s.alarms.split(",").filter(Boolean) : [],
    keep: 3,
    waitSeconds: 4200,
    ...(s.capture ? { dataCapture: { destination: s.capture, percent: s.capturePercent } } : {}),
  };
}

/** Deploys a run's model to the configured target and smoke-tests it; returns where it serves. */
async function deploy(
  input: PromoteInput,
  runId: string,
  scratch: string,
  current: RegistryEntry | null = null,
): Promise<{ deployment: DeploymentRecord; smoke: NonNullable<PromoteResult["smoke"]> }> {
  const { config, store, reporter } = input;
  const dir = await runModelDir(store, runId, scratch);
  const sessions = await smokeSessions(input, runId);
  if (config.promote.target === "sagemaker") {
    // The model serving now is checked against its recorded sha256 before anything changes.
    const serving = current?.deployment;
    const result = await deployToSageMaker(
      sageMakerSettings(config),
      {
        runId,
        artifactDir: dir,
        smokeSessions: sessions,
        ...(current &&
        serving?.target === "sagemaker" &&
        serving.modelDataUrl &&
        serving.modelDataSha256
          ? {
              serving: {
                runId: current.runId,
                modelDataUrl: serving.modelDataUrl,
                sha256: serving.modelDataSha256,
              },
            }
          : {}),
      },
      { reporter },
    );
    return { deployment: sageMakerDeploymentRecord(result), smoke: result.smoke };
  }
  const smoke = await verifyLocalEndpoint({
    modelDir: dir,
    sessions,
    reporter,
  });
  return {
    deployment: { target: "local", endpoint: "npx pipeline serve", modelDataUrl: dir },
    smoke,
  };
}

/**
 * `pipeline promote --rollback`: puts the model that was in production before the current one
 * back on the target (deployed and smoke-tested like a promotion) and records the rollback.
 */
export async function rollbackProduction(
  input: Omit<PromoteInput, "runId">,
): Promise<RegistryEntry> {
  const current = await readProduction(input.store);
  if (!current?.previousRunId) {
    throw new InputError(
      current
        ? `run ${current.runId} is in production and nothing was before it: nothing to roll back to`
        : `no model is in production in ${input.store.location}: nothing to roll back`,
      {},
      "see the registry's history with: npx pipeline runs",
    );
  }
  const scratch = await mkdtemp(join(tmpdir(), "mlops-rollback-"));
  try {
    const { deployment } = await deploy(
      { ...input, runId: current.previousRunId },
      current.previousRunId,
      scratch,
    );
    return await recordRollback(input.store, {
      reason: "manual rollback (pipeline promote --rollback)",
      toRunId: current.previousRunId,
      deployment,
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Whether the production run's evaluated model files are byte for byte this run's. */
async function sameModel(
  store: ArtifactStore,
  productionRunId: string,
  files: readonly StageInput[],
): Promise<boolean> {
  const production = (await readStageResult(store, productionRunId, "evaluate"))?.result;
  // Evaluations recorded before model files were hashed have none: never the same, then.
  const recorded: readonly StageInput[] = production?.modelFiles ?? [];
  if (recorded.length === 0 || files.length === 0) return false;
  // Names carry each run's folder; the file's place in the model and its bytes are what count.
  const byPlace = (list: readonly StageInput[]) =>
    list
      .map((f) => `${f.name.split("/model/").pop() ?? f.name} ${f.sha256 ?? ""}`)
      .sort()
      .join("\n");
  return byPlace(recorded) === byPlace(files);
}

export async function promoteRun(input: PromoteInput): Promise<PromoteResult> {
  const { config, store, runId, reporter } = input;
  const target = config.promote.target;
  const evaluation = (await readStageResult(store, runId, "evaluate"))?.result;
  if (!evaluation) {
    throw new InputError(
      `run ${runId} has no evaluation in ${store.location}: promotion needs its gates and metrics`,
      {},
      `run: npx pipeline evaluate --run-id ${runId}`,
    );
  }
  const challenger = summary(evaluation, evaluation.report.roles.candidate);
  if (!challenger) throw new InputError(`run ${runId}'s evaluation has no candidate model`);
  const champion = summary(evaluation, evaluation.report.roles.production);
  const paired = (metric: "hr@20" | "mrr@20") =>
    evaluation.report.comparisons.find(
      (c) => c.reference === evaluation.report.roles.production && c.metric === metric,
    );
  const [dHr, dMrr] = [paired("hr@20"), paired("mrr@20")];
  const gates = {
    passed: evaluation.gates.passed,
    failedBlocking: failedChecks(evaluation.gates).map((c) => c.name),
  };
  const decision = decidePromotion({
    gates,
    challenger,
    ...(champion ? { champion } : {}),
    ...(dHr?.ci && dMrr?.ci && dHr.difference !== null && dMrr.difference !== null
      ? {
          difference: {
            hr20: { value: dHr.difference, lower: dHr.ci.low, upper: dHr.ci.high },
            mrr20: { value: dMrr.difference, lower: dMrr.ci.low, upper: dMrr.ci.high },
          },
        }
      : {}),
    force: input.force ?? false,
    overrideGates: input.overrideGates ?? false,
    tolerance: config.promote.tolerance,
  });
  const current = (await readProduction(store)) ?? null;
  reporter.info(`promotion decision: ${decision.reason}`);
  if (decision.verdict === "gates-failed" && !decision.promote) {
    throw new StageFailure(
      `promotion refused: ${decision.reason}`,
      { target, decision, promoted: false, production: current } satisfies PromoteResult,
      "fix the model or the data until the gates pass (--override-gates ships it anyway, recorded)",
    );
  }
  if (!decision.promote) return { target, decision, promoted: false, production: current };
  if (current && !input.force && (await sameModel(store, current.runId, evaluation.modelFiles))) {
    // A memoized run reuses the production model's training: deploying the same files again
    // would only churn the registry (and make every later evaluation run again).
    const reason = `run ${current.runId} in production serves the same model files (equal sha256): nothing to deploy`;
    reporter.info(`promotion skipped: ${reason}`);
    return {
      target,
      decision: { ...decision, promote: false, reason },
      promoted: false,
      production: current,
    };
  }

  const scratch = await mkdtemp(join(tmpdir(), "mlops-promote-"));
  try {
    let deployed: Awaited<ReturnType<typeof deploy>>;
    try {
      deployed = await deploy(input, runId, scratch, current);
    } catch (error) {
      if (!current || target !== "local") throw error;
      // Roll back: bring the production model up again and check that it still answers.
      reporter.warn(`${(error as Error).message}; rolling back to run ${current.runId}`);
      await deploy(input, current.runId, scratch);
      throw new StageFailure(
        `promotion of run ${runId} rolled back: its endpoint failed the smoke test; run ${current.runId} stays in production`,
        {
          target,
          decision,
          promoted: false,
          production: current,
          rolledBackTo: current.runId,
        } satisfies PromoteResult,
        "see the smoke test error above; `npx pipeline serve` still serves the production model",
      );
    }
    const { deployment, smoke } = deployed;
    const production = await recordPromotion(store, {
      runId,
      deployment,
      metrics: challenger,
      gates,
      decision,
    });
    return { target, decision, promoted: true, production, smoke };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
