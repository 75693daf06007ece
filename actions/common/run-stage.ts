/**
 * The one adapter between GitHub Actions and a pipeline stage. Every action's main.ts is a call
 * of `runStageAction` with the stage's name and how its result maps to outputs (paths typed
 * against that stage's result); the stage logic stays in pipeline/. The adapter:
 *
 * - reads the inputs: an input is named after its setting's CLI flag (`sessions` is
 *   `--sessions`, so `data.sessions`), and an empty input is left out so the config file, the
 *   MLOPS_* environment variables and the defaults apply exactly as they do for the CLI;
 * - masks credentials in inputs and the environment before anything logs, and mints the job's
 *   OIDC token for Snowflake when its settings ask for workload identity (snowflake-token.ts);
 * - runs the stage inside a log group with a Reporter that writes through @actions/core;
 * - sets the outputs `run-id`, `store` and the stage's own, also from a failed stage's partial
 *   result, so later jobs (the model card) can still read what the stage found;
 * - writes a job summary and fails the step with the error's message and hint.
 */
import { tmpdir } from "node:os";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { loadConfig } from "../../pipeline/config/config.ts";
import { SETTINGS } from "../../pipeline/config/settings.ts";
import { InputError, PipelineError, StageFailure } from "../../pipeline/errors.ts";
import { createContext, type RunContext } from "../../pipeline/run/context.ts";
import type { StageName, StageResults } from "../../pipeline/run/results.ts";
import { STAGES } from "../../pipeline/run/stages.ts";
import { newRunId, validateRunId } from "../../pipeline/store/runs.ts";
import { actionReporter } from "./action-reporter.ts";
import { ResultFields } from "./result-fields.ts";
import { maskSecrets } from "./secrets.ts";
import { actionsStageCache } from "./stage-cache.ts";
import { provideSnowflakeToken } from "./snowflake-token.ts";

export type OutputValue = string | number | boolean | undefined;

export interface StageActionOptions<T> {
  /** Action outputs from the stage's result (undefined values are not set). */
  outputs(result: ResultFields<T>): Record<string, OutputValue>;
  /**
   * A reason to fail the step although the stage returned (a stage that reports a problem in
   * its result instead of throwing, such as upload's reconciliation).
   */
  failure?(result: ResultFields<T>): string | undefined;
  /** Extra markdown for the job summary, after the outputs table. */
  summary?(result: ResultFields<T>): string | undefined;
  /**
   * Runs after the stage with its result (the model card posts its comment here). What it
   * returns is merged into the outputs.
   */
  after?(result: ResultFields<T>, ctx: RunContext): Promise<Record<string, OutputValue>>;
  /** The stage function; by default `STAGES[stage]`. */
  run?(ctx: RunContext): Promise<T>;
}

/** Inputs the adapter reads itself; every other input is a setting's flag without `--`. */
export const ADAPTER_INPUTS = ["run-id", "config"] as const;

/** Setting keys by input name: the setting's CLI flag without its leading dashes. */
export function settingInputs(): Map<string, string> {
  const inputs = new Map<string, string>();
  for (const spec of SETTINGS) if (spec.flag) inputs.set(spec.flag.replace(/^--/, ""), spec.key);
  return inputs;
}

/** The config flags from the action's non-empty inputs. */
export function inputFlags(): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const [input, key] of settingInputs()) {
    const value = core.getInput(input);
    if (value !== "") flags[key] = value;
  }
  return flags;
}

function resolveRunId(): string {
  const given = core.getInput("run-id");
  if (given === "") return newRunId();
  try {
    return validateRunId(given);
  } catch (error) {
    throw new InputError((error as Error).message, { field: "run-id" });
  }
}

function setOutputs(values: Record<string, OutputValue>): Record<string, string> {
  const set: Record<string, string> = {};
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    set[name] = String(value);
    core.setOutput(name, set[name]);
  }
  return set;
}

async function writeSummary(
  stage: string,
  status: "succeeded" | "failed",
  outputs: Record<string, string>,
  extra: string | undefined,
  error?: string,
): Promise<void> {
  // Outside a runner (a local dry run) there is no summary file to write to.
  if (!process.env.GITHUB_STEP_SUMMARY) return;
  const rows = Object.entries(outputs).map(([name, value]) => [
    `<code>${escapeHtml(name)}</code>`,
    escapeHtml(value),
  ]);
  core.summary.addHeading(`${stage}: ${status === "succeeded" ? "✅ succeeded" : "❌ failed"}`, 3);
  if (rows.length > 0) {
    core.summary.addTable([
      [
        { data: "output", header: true },
        { data: "value", header: true },
      ],
      ...rows,
    ]);
  }
  if (error) {
    // Stages put tables in multi-line messages (the gate verdicts): keep their layout.
    core.summary.addRaw(
      error.includes("\n")
        ? `\n**Error**\n\n\`\`\`text\n${error}\n\`\`\`\n`
        : `\n**Error:** ${escapeHtml(error)}\n`,
      true,
    );
  }
  if (extra) core.summary.addRaw(`\n${extra}\n`, true);
  await core.summary.write();
}

/**
 * A folder store ends with its workflow: its memoized stages are kept in the Actions cache by
 * key (stage-cache.ts). An S3 store keeps them itself.
 */
function withStageCache(ctx: RunContext): RunContext {
  if (ctx.config.store.startsWith("s3://") || process.env.GITHUB_ACTIONS !== "true") return ctx;
  return {
    ...ctx,
    stageCache: actionsStageCache({
      api: cache,
      store: ctx.store,
      runId: ctx.runId,
      scratch: process.env.RUNNER_TEMP ?? tmpdir(),
      log: (line) => (line.startsWith("warning: ") ? core.warning(line.slice(9)) : core.info(line)),
    }),
  };
}

function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function describeError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error instanceof PipelineError ? error.hint : undefined;
  return hint ? `${message}\nhint: ${hint}` : message;
}

/** Runs one pipeline stage as a GitHub action (see runAction). */
export async function runStageAction<S extends StageName>(
  stage: S,
  options: StageActionOptions<StageResults[S]>,
): Promise<void> {
  const run: (ctx: RunContext) => Promise<StageResults[S]> = options.run ?? STAGES[stage];
  await runAction(stage, { ...options, run });
}

/**
 * Runs `options.run` as the action of the step named `stage`, the way every stage action runs. Never throws: a failure sets the
 * step's status with `core.setFailed` (exit code 1), as the Actions toolkit expects of a main.
 */
export async function runAction<T>(
  stage: string,
  options: StageActionOptions<T> & { run(ctx: RunContext): Promise<T> },
): Promise<void> {
  maskSecrets();
  let ctx: RunContext | undefined;
  let outputs: Record<string, string> = {};
  let fields: ResultFields<T> | undefined;
  try {
    await provideSnowflakeToken(
      process.env,
      (audience) => core.getIDToken(audience),
      core.setSecret,
    );
    const configFile = core.getInput("config");
    const { config } = loadConfig({
      ...(configFile ? { file: configFile } : {}),
      flags: inputFlags(),
    });
    ctx = withStageCache(createContext(config, resolveRunId(), actionReporter()));
    // Set before the stage runs: a later job can find the run even when this one fails.
    outputs = setOutputs({ "run-id": ctx.runId, store: ctx.store.location });
    const context = ctx;
    const result = await core.group(`${stage} (run ${context.runId})`, () => options.run(context));
    fields = new ResultFields<T>(result);
    outputs = { ...outputs, ...setOutputs(options.outputs(fields)) };
    if (options.after) outputs = { ...outputs, ...setOutputs(await options.after(fields, ctx)) };
    const failure = options.failure?.(fields);
    if (failure) throw new PipelineError(failure);
    await writeSummary(stage, "succeeded", outputs, options.summary?.(fields));
  } catch (error) {
    if (!fields && error instanceof StageFailure) {
      fields = new ResultFields<T>(error.result);
      outputs = { ...outputs, ...setOutputs(options.outputs(fields)) };
    }
    const message = describeError(error);
    await writeSummary(
      stage,
      "failed",
      outputs,
      fields ? options.summary?.(fields) : undefined,
      message,
    ).catch((summaryError: unknown) =>
      core.warning(`could not write the job summary: ${String(summaryError)}`),
    );
    core.setFailed(message);
  } finally {
    await ctx?.close().catch((error: unknown) => core.warning(String(error)));
  }
}
