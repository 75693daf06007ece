/**
 * The `pipeline` CLI: a thin front end over the stage functions. Parses flags, loads the config
 * (defaults < file < env < flags), runs, prints a human summary on stderr or exactly one JSON
 * object on stdout with --json. Exit codes: 0 ok, 1 failed, 2 bad usage or bad input.
 */
import { existsSync, readFileSync } from "node:fs";
import { appendFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, CommanderError, Option } from "commander";
import { loadConfig, type Config, type SettingSource } from "../config/config.ts";
import { SETTINGS } from "../config/settings.ts";
import { formatDoctor, runDoctor } from "../doctor.ts";
import { errorLines, errorReport, InputError, PipelineError, ReportedVerdict } from "../errors.ts";
import { generate, GENERATOR_DEFAULTS } from "../data/generator/index.ts";
import { convert, CONVERT_FORMATS } from "../data/convert/convert.ts";
import { rollbackProduction } from "../promote/promote.ts";
import { readProduction } from "../store/registry.ts";
import { createReporter, type Reporter } from "../reporter.ts";
import { SAGEMAKER_MODEL_DIR, serveModel } from "../serve/serve.ts";
import { SERVE_LIMIT_SPECS } from "../config/serve-settings.ts";
import { runModelDir } from "../train/fetch-artifact.ts";
import { imageReports } from "../compute/images.ts";
import { parseVariables, type LevelInputs } from "../config/levels.ts";
import { reviewedForCommit } from "../promote/reviewed.ts";
import { createGitHubClient, pullRequestOfCommit } from "../../reports/github.ts";
import { checkResult, driftFacts } from "../../reports/from-run.ts";
import { renderDriftSummary } from "../../reports/markdown.ts";
import { failedChecks } from "../evaluate/gates.ts";
import { checkDrift } from "../monitor/drift-check.ts";
import { compareRuns } from "../run/compare.ts";
import { createContext, openStore } from "../run/context.ts";
import { STAGE_NAMES } from "../run/results.ts";
import {
  cardStage,
  evaluateStage,
  promoteStage,
  runPipeline,
  stageRange,
  trainStage,
  transformStage,
  uploadStage,
} from "../run/stages.ts";
import { formatTransform } from "../transform/report.ts";
import { listRuns, newRunId, showRun, stageKey, validateRunId } from "../store/runs.ts";
import {
  formatCard,
  formatComparison,
  formatConvert,
  formatDrift,
  formatPromote,
  formatEvaluate,
  formatImages,
  formatReviewed,
  formatRunDetail,
  formatRunList,
  formatTrain,
  formatUpload,
} from "./format.ts";

interface CommonOptions {
  config?: string;
  json?: boolean;
  runId?: string;
  /** false with --no-cache. */
  cache?: boolean;
  [flag: string]: unknown;
}

const COMMON_SETTINGS = ["store", "warehouse", "tenant", "progress"];
const DATA_SETTINGS = [
  "data.source",
  "data.dir",
  "data.sessions",
  "data.skus",
  "data.seed",
  "data.downloadUrl",
  "data.downloadSha256",
  "data.allowHttp",
  "data.downloadMaxBytes",
  "data.downloadMaxUnpackedBytes",
  // The upload stage loads the production traffic next to the dataset.
  "monitor.traffic",
];

/** The training settings, and those of the AWS Batch job that `--compute batch` submits. */
const TRAIN_SETTINGS = SETTINGS.map((s) => s.key).filter(
  (key) => key.startsWith("train.") || key.startsWith("model.") || key.startsWith("compute.batch."),
);

const PROMOTE_SETTINGS = SETTINGS.map((s) => s.key).filter((key) => key.startsWith("promote."));

const EVALUATE_SETTINGS = SETTINGS.map((s) => s.key).filter((key) => key.startsWith("evaluate."));

const TRANSFORM_SETTINGS = [
  "transform.project",
  "transform.dbt",
  "transform.sessionGapMinutes",
  "transform.trainFraction",
  "transform.validationFraction",
  "transform.collapseRepeats",
  "transform.sequenceActions",
];

function camel(flag: string): string {
  return flag.replace(/^--/, "").replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function withSettings(command: Command, keys: string[]): Command {
  for (const key of keys) {
    const spec = SETTINGS.find((s) => s.key === key);
    if (!spec?.flag) continue;
    command.addOption(new Option(`${spec.flag} <value>`, `${spec.description} [env ${spec.env}]`));
  }
  return command
    .option(
      "--config <file>",
      "config file (YAML) [env MLOPS_CONFIG; default pipeline.config.yml if present]",
    )
    .option("--json", "print exactly one JSON object with the result on stdout; logs go to stderr");
}

interface Invocation {
  config: Config;
  sources: Record<string, SettingSource>;
  reporter: Reporter;
  json: boolean;
}

function prepare(options: CommonOptions): Invocation {
  const flags: Record<string, string | number | undefined> = {};
  for (const spec of SETTINGS) {
    if (!spec.flag) continue;
    const value = options[camel(spec.flag)];
    if (typeof value === "string") flags[spec.key] = value;
  }
  const loaded = loadConfig({ ...(options.config ? { file: options.config } : {}), flags });
  const json = options.json === true;
  return {
    config: loaded.config,
    sources: loaded.sources,
    json,
    reporter: createReporter({ quiet: json, progress: loaded.config.progress }),
  };
}

function emit(invocation: Invocation, result: unknown, human: () => string): void {
  if (invocation.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stderr.write(`${human()}\n`);
}

async function withContext<T>(
  options: CommonOptions,
  body: (inv: Invocation, ctx: ReturnType<typeof createContext>) => Promise<T>,
): Promise<T> {
  const inv = prepare(options);
  const runId = options.runId ? validateRunIdFlag(options.runId) : newRunId();
  const ctx = {
    ...createContext(inv.config, runId, inv.reporter, inv.sources),
    cache: options.cache !== false,
  };
  try {
    return await body(inv, ctx);
  } finally {
    await ctx.close();
  }
}

function validateRunIdFlag(id: string): string {
  try {
    return validateRunId(id);
  } catch (error) {
    throw new InputError((error as Error).message, { field: "--run-id" });
  }
}

const NO_CACHE_HELP =
  "run transform, train and evaluate even when an earlier run in the store had the same data, code and settings (by default that run's outputs are reused)";

export function buildProgram(): Command {
  const program = new Command("pipeline")
    .description(
      `Raw shopping events to a deployed next-item recommender: ${STAGE_NAMES.join(" → ")}.`,
    )
    .showHelpAfterError()
    // `runs show ID --json` must give --json to `show`, not to its parent `runs`.
    .enablePositionalOptions()
    .exitOverride();

  withSettings(
    program
      .command("run")
      .description(`run the stages in order (${STAGE_NAMES.join(" → ")}) under one run id`)
      .option("--from <stage>", "start at this stage (resume a failed run with --run-id)")
      .option("--until <stage>", "stop after this stage")
      .option("--run-id <id>", "run id to use (default: a new one)")
      .option("--no-cache", NO_CACHE_HELP),
    [
      ...COMMON_SETTINGS,
      ...DATA_SETTINGS,
      ...TRANSFORM_SETTINGS,
      ...TRAIN_SETTINGS,
      ...EVALUATE_SETTINGS,
      "card.screenshot",
      "card.note",
      ...PROMOTE_SETTINGS,
    ],
  ).action(async (options: CommonOptions & { from?: string; until?: string }) => {
    const stages = stageRange(options.from, options.until);
    await withContext(options, async (inv, ctx) => {
      const results = await runPipeline(ctx, stages);
      emit(inv, { runId: ctx.runId, store: ctx.store.location, stages: results }, () => {
        const lines = [`run ${ctx.runId} finished: ${stages.join(" → ")}`];
        if (results.upload) lines.push(formatUpload(results.upload));
        if (results.transform) lines.push(formatTransform(results.transform));
        if (results.train) lines.push(formatTrain(results.train));
        if (results.evaluate) lines.push(formatEvaluate(results.evaluate));
        if (results.card) lines.push(formatCard(results.card));
        if (results.promote) lines.push(formatPromote(results.promote));
        lines.push(`inspect it with: npx pipeline runs show ${ctx.runId}`);
        return lines.join("\n");
      });
    });
  });

  withSettings(
    program
      .command("generate")
      .description(
        "write synthetic data-challenge files (and the oracle) from a seeded generating process",
      )
      .requiredOption(
        "--out <dir>",
        "folder to write browsing_train.csv, search_train.csv, sku_to_content.csv into",
      ),
    ["data.sessions", "data.skus", "data.seed", "progress"],
  ).action(async (options: CommonOptions & { out: string }) => {
    const inv = prepare(options);
    const { sessions, skus, seed } = inv.config.data;
    const bar = inv.reporter.progress("generate", sessions, "sessions");
    const result = await generate({
      outDir: options.out,
      sessions,
      skus,
      seed,
      onProgress: (done) => bar.update(done, done),
    }).finally(() => bar.stop());
    emit(inv, result, () =>
      [
        `wrote ${result.counts.sessions} sessions to ${result.outDir} in ${result.seconds.toFixed(1)} s (${GENERATOR_DEFAULTS.sessions} by default)`,
        `  browsing rows ${result.counts.browsingRows}, search rows ${result.counts.searchRows}, catalog rows ${result.counts.catalogRows}`,
        `  evaluable sessions ${result.counts.evaluableSessions}; oracle: ${result.files.oracle}`,
      ].join("\n"),
    );
  });

  withSettings(
    program
      .command("convert")
      .description(
        "convert a public session dataset (YOOCHOOSE, DIGINETICA, RetailRocket, OTTO) into the data-challenge files",
      )
      .addOption(
        new Option("--format <name>", "the dataset's published layout")
          .choices(CONVERT_FORMATS)
          .makeOptionMandatory(),
      )
      .requiredOption(
        "--input <files...>",
        "the dataset's files (.gz too): yoochoose-clicks.dat [yoochoose-buys.dat]; train-item-views.csv [train-purchases.csv products.csv product-categories.csv]; events.csv; train.jsonl",
      )
      .requiredOption(
        "--out <dir>",
        "folder to write browsing_train.csv, search_train.csv, sku_to_content.csv and convert-rejects.csv into",
      ),
    ["transform.sessionGapMinutes"],
  ).action(async (options: CommonOptions & { format: string; input: string[]; out: string }) => {
    const inv = prepare(options);
    const result = await convert({
      format: options.format,
      inputs: options.input,
      out: options.out,
      sessionGapMinutes: inv.config.transform.sessionGapMinutes,
      reporter: inv.reporter,
    });
    emit(inv, result, () => formatConvert(result));
  });

  withSettings(
    program
      .command("upload")
      .description(
        "load the data files into the warehouse's raw tables (idempotent; bad rows quarantined)",
      )
      .option("--run-id <id>", "run id to record the stage under (default: a new one)"),
    [...COMMON_SETTINGS, ...DATA_SETTINGS],
  ).action(async (options: CommonOptions) => {
    await withContext(options, async (inv, ctx) => {
      const result = await uploadStage(ctx);
      emit(inv, { runId: ctx.runId, ...result }, () => `run ${ctx.runId}\n${formatUpload(result)}`);
      if (!result.reconciled) throw new PipelineError("row counts do not reconcile (see above)");
    });
  });

  withSettings(
    program
      .command("transform")
      .description(
        "dbt build of dbt/ on the warehouse: dbt-core when installed, else the built-in runner",
      )
      .option(
        "--select <selectors...>",
        "dbt selectors: model, model+, +model, +model+, tag:x (a union; default: everything)",
      )
      .option("--run-id <id>", "run id to record the stage under (default: a new one)")
      .option("--no-cache", NO_CACHE_HELP),
    [...COMMON_SETTINGS, ...TRANSFORM_SETTINGS],
  ).action(async (options: CommonOptions & { select?: string[] }) => {
    await withContext(options, async (inv, ctx) => {
      const result = await transformStage(ctx, { select: options.select ?? [] });
      emit(
        inv,
        { runId: ctx.runId, ...result },
        () => `run ${ctx.runId}\n${formatTransform(result)}`,
      );
    });
  });

  withSettings(
    program
      .command("train")
      .description(
        "train the next-item model on the transformed splits; checkpoints each epoch, resumable",
      )
      .option("--run-id <id>", "run id to record the stage under (default: a new one)")
      .option(
        "--resume",
        "continue the most recent run whose training did not finish (with --run-id: that run)",
      )
      .option("--no-cache", NO_CACHE_HELP),
    [...COMMON_SETTINGS, ...TRAIN_SETTINGS],
  ).action(async (options: CommonOptions & { resume?: boolean }) => {
    if (options.resume && !options.runId) {
      const inv = prepare(options);
      options.runId = await unfinishedTraining(openStore(inv.config.store));
      inv.reporter.info(`resuming run ${options.runId}`);
    }
    await withContext(options, async (inv, ctx) => {
      const result = await trainStage(ctx);
      emit(inv, { runId: ctx.runId, ...result }, () => `run ${ctx.runId}\n${formatTrain(result)}`);
    });
  });

  withSettings(
    program
      .command("evaluate")
      .description(
        "evaluate the run's model against the baselines, the oracle and production; judge the gates",
      )
      .option("--run-id <id>", "the run whose model to evaluate (default: the newest trained run)")
      .option("--no-cache", NO_CACHE_HELP),
    [...COMMON_SETTINGS, ...DATA_SETTINGS, ...EVALUATE_SETTINGS],
  ).action(async (options: CommonOptions) => {
    if (!options.runId)
      options.runId = await newestTrainedRun(openStore(prepare(options).config.store));
    await withContext(options, async (inv, ctx) => {
      const result = await evaluateStage(ctx);
      emit(
        inv,
        { runId: ctx.runId, ...result },
        () => `run ${ctx.runId}\n${formatEvaluate(result)}`,
      );
    });
  });

  withSettings(
    program
      .command("card")
      .description("write the model card (markdown) and the self-contained HTML report of a run")
      .option("--run-id <id>", "the run (default: the newest trained run)")
      .option("--out <file>", "also write the card's markdown to this file"),
    [...COMMON_SETTINGS, "card.screenshot", "card.note"],
  ).action(async (options: CommonOptions & { out?: string }) => {
    if (!options.runId)
      options.runId = await newestTrainedRun(openStore(prepare(options).config.store));
    await withContext(options, async (inv, ctx) => {
      const result = await cardStage(ctx);
      if (options.out) {
        const markdown = await ctx.store.get(result.card);
        if (markdown) await writeFile(options.out, markdown);
      }
      emit(inv, { runId: ctx.runId, ...result }, () => formatCard(result));
    });
  });

  withSettings(
    program
      .command("promote")
      .description(
        "champion/challenger on the run's evaluation, then deploy a winner (local endpoint or SageMaker)",
      )
      .option("--run-id <id>", "the run to promote (default: the newest trained run)")
      .option("--force", "promote even when it does not beat production (recorded as forced)")
      .option("--override-gates", "promote even though blocking gates failed (recorded as forced)")
      .option(
        "--rollback",
        "put the model that was in production before the current one back (deployed, smoke-tested, recorded)",
      ),
    [...COMMON_SETTINGS, ...PROMOTE_SETTINGS],
  ).action(
    async (
      options: CommonOptions & { force?: boolean; overrideGates?: boolean; rollback?: boolean },
    ) => {
      if (options.rollback) {
        await withContext(options, async (inv, ctx) => {
          const entry = await rollbackProduction({
            config: ctx.config,
            store: ctx.store,
            warehouse: () => ctx.warehouse(),
            reporter: ctx.reporter,
          });
          emit(
            inv,
            entry,
            () =>
              `rolled back: run ${entry.runId} is in production again (${entry.deployment.target}: ${entry.deployment.endpoint})`,
          );
        });
        return;
      }
      if (!options.runId)
        options.runId = await newestTrainedRun(openStore(prepare(options).config.store));
      await withContext(options, async (inv, ctx) => {
        const result = await promoteStage(ctx, {
          force: options.force === true,
          overrideGates: options.overrideGates === true,
        });
        emit(inv, { runId: ctx.runId, ...result }, () => formatPromote(result));
      });
    },
  );

  withSettings(
    program
      .command("drift")
      .description(
        "the production model against its traffic: load it, measure the drift from the training data, judge the drift gates (exit 1 when a blocking one fails)",
      )
      .option("--run-id <id>", "run id to record the check under (default: a new one)")
      .option("--summary <file>", "also append the report as markdown to FILE (a job summary)")
      .option("--no-cache", NO_CACHE_HELP),
    [...COMMON_SETTINGS, ...DATA_SETTINGS, ...TRANSFORM_SETTINGS, ...EVALUATE_SETTINGS],
  ).action(async (options: CommonOptions & { summary?: string }) => {
    await withContext(options, async (inv, ctx) => {
      const result = await checkDrift(ctx);
      const facts = driftFacts(result.drift);
      const checks = result.gates.checks.map(checkResult);
      if (options.summary) {
        await appendFile(
          options.summary,
          `${renderDriftSummary(facts, checks, result.productionRunId)}\n`,
        );
      }
      emit(inv, { runId: ctx.runId, ...result }, () => formatDrift(result, facts));
      const failed = failedChecks(result.gates);
      if (failed.length > 0) {
        throw new ReportedVerdict(
          `drift: ${failed.length} blocking drift gate(s) failed: ${failed.map((c) => c.name).join(", ")}`,
          1,
          `retrain on the current data (npx pipeline run); the thresholds are in ${result.gatesFile}`,
        );
      }
    });
  });

  withSettings(
    program
      .command("serve")
      .description(
        "the inference server (SageMaker contract: GET /ping, POST /invocations) for a model",
      ),
    [
      ...COMMON_SETTINGS,
      "serve.port",
      "serve.model",
      "serve.logSampleRate",
      ...SERVE_LIMIT_SPECS.map((spec) => spec.key),
    ],
  ).action(async (options: CommonOptions) => {
    const inv = prepare(options);
    const store = openStore(inv.config.store);
    await serveModel(inv.config, await servedModelDir(inv.config, store), inv.reporter);
  });

  withSettings(
    program
      .command("doctor")
      .description(
        "check Node, the tfjs backend, the store, the warehouse and the AWS/Snowflake settings, and say what to fix",
      )
      .option("--no-probe", "do not open the warehouse (no DuckDB open, no Snowflake login)")
      .option(
        "--variables <file>",
        "check the levels against a repository's variables: the output of `gh variable list --json name,value` (default: the environment)",
      )
      .option(
        "--secrets <file>",
        "with --variables: the repository's secret names, the output of `gh secret list --json name`",
      ),
    [
      ...COMMON_SETTINGS,
      "transform.dbt",
      "train.compute",
      "train.backend",
      "card.screenshot",
      ...PROMOTE_SETTINGS,
      ...SETTINGS.map((s) => s.key).filter((key) => key.startsWith("compute.batch.")),
    ],
  ).action(
    async (options: CommonOptions & { probe: boolean; variables?: string; secrets?: string }) => {
      const inv = prepare(options);
      const report = await runDoctor(inv.config, {
        probeWarehouse: options.probe,
        ...(options.variables
          ? { levels: readLevelInputs(options.variables, options.secrets) }
          : {}),
      });
      emit(inv, report, () => formatDoctor(report));
      if (!report.ok) {
        throw new PipelineError(
          "the environment is not ready (see the checks above)",
          1,
          "apply the fixes listed, then run npx pipeline doctor again",
        );
      }
    },
  );

  withSettings(
    program
      .command("reviewed")
      .description(
        "find the candidate reviewed on the pull request merged as COMMIT (gates passed, model files as evaluated, same champion): what promote-on-main deploys instead of retraining",
      )
      .requiredOption("--commit <sha>", "the commit on the base branch (GITHUB_SHA on a push)")
      .option("--base <branch>", "the branch the pull request was merged into", "main")
      .option(
        "--head-sha <sha>",
        "the pull request's head commit, when known (skips the GitHub lookup)",
      ),
    ["store"],
  ).action(async (options: CommonOptions & { commit: string; base: string; headSha?: string }) => {
    const inv = prepare(options);
    const sha = (value: string, flag: string) => {
      if (!/^[0-9a-f]{40}$/.test(value)) {
        throw new InputError(`${flag} "${value}" is not a full commit sha (40 hex digits)`, {
          field: flag,
        });
      }
      return value;
    };
    const commit = sha(options.commit, "--commit");
    const headSha = options.headSha === undefined ? undefined : sha(options.headSha, "--head-sha");
    const result = await reviewedForCommit({
      store: openStore(inv.config.store),
      commit,
      ephemeralFolder: process.env.GITHUB_ACTIONS === "true",
      findPullRequest: async (merged) =>
        headSha ? { number: 0, headSha } : pullRequestFromGitHub(merged, options.base),
    });
    emit(inv, result, () => formatReviewed(result));
  });

  withSettings(
    program
      .command("images")
      .description(
        "the train and serve images' tags for this checkout: what the images workflow pushes and the pipeline runs",
      ),
    ["compute.batch.image", "promote.sagemaker.image"],
  ).action((options: CommonOptions) => {
    const inv = prepare(options);
    const images = imageReports({
      train: inv.config.compute.batch.image,
      serve: inv.config.promote.sagemaker.image,
    });
    emit(inv, { images }, () => formatImages(images));
  });

  const runs = withSettings(program.command("runs").description("list past runs (newest first)"), [
    "store",
  ]).action(async (options: CommonOptions) => {
    const inv = prepare(options);
    const list = await listRuns(openStore(inv.config.store));
    emit(inv, { store: inv.config.store, runs: list }, () => formatRunList(list));
  });
  withSettings(
    runs
      .command("show")
      .description("one run: its stages, counts, inputs and artifacts")
      .argument("<id>", "run id"),
    ["store"],
  ).action(async (id: string, options: CommonOptions) => {
    const inv = prepare(options);
    const detail = await showRun(openStore(inv.config.store), validateRunIdFlag(id));
    if (!detail) {
      throw new InputError(
        `no run "${id}" in ${inv.config.store}`,
        {},
        "List runs with: npx pipeline runs",
      );
    }
    emit(inv, detail, () => formatRunDetail(detail));
  });
  withSettings(
    runs
      .command("compare")
      .description(
        "two runs side by side: settings, data hashes, stage cache keys and metric deltas (B − A)",
      )
      .argument("<a>", "run id A (the baseline)")
      .argument("<b>", "run id B"),
    ["store"],
  ).action(async (a: string, b: string, options: CommonOptions) => {
    const inv = prepare(options);
    const comparison = await compareRuns(openStore(inv.config.store), a, b);
    emit(inv, comparison, () => formatComparison(comparison));
  });

  return program;
}

/** `doctor --variables FILE [--secrets FILE]`: a repository's settings, secrets by name only. */
function readLevelInputs(variablesFile: string, secretsFile?: string): LevelInputs {
  const read = (file: string, what: string) => {
    try {
      return parseVariables(readFileSync(file, "utf8"), file);
    } catch (error) {
      throw new InputError(
        `cannot read ${what}: ${(error as Error).message.replace(`${file}: `, "")}`,
        { file },
        `Write it with: gh ${what === "the variables" ? "variable list --json name,value" : "secret list --json name"} > ${file}`,
      );
    }
  };
  return {
    variables: read(variablesFile, "the variables"),
    secrets: new Set(secretsFile ? Object.keys(read(secretsFile, "the secret names")) : []),
  };
}

/** The pull request merged as `commit`, from GitHub's API (GITHUB_TOKEN, GITHUB_REPOSITORY). */
async function pullRequestFromGitHub(
  commit: string,
  base: string,
): Promise<{ number: number; headSha: string } | undefined> {
  const token = process.env.GITHUB_TOKEN ?? "";
  const repository = process.env.GITHUB_REPOSITORY ?? "";
  const [owner, repo] = repository.split("/");
  if (token === "" || !owner || !repo) {
    throw new InputError(
      "finding the pull request of a commit needs GITHUB_TOKEN and GITHUB_REPOSITORY (owner/name)",
      { field: token === "" ? "GITHUB_TOKEN" : "GITHUB_REPOSITORY" },
      "In a workflow pass GITHUB_TOKEN: ${{ github.token }}; elsewhere pass --head-sha.",
    );
  }
  return pullRequestOfCommit({
    octokit: createGitHubClient(token, process.env.GITHUB_API_URL),
    owner,
    repo,
    commitSha: commit,
    baseRef: base,
  });
}

/**
 * What `pipeline serve` serves: --model, else SageMaker's /opt/ml/model when it exists (the
 * container), else the production model of the registry.
 */
async function servedModelDir(
  config: Config,
  store: ReturnType<typeof openStore>,
): Promise<string> {
  if (config.serve.model) return config.serve.model;
  if (existsSync(join(SAGEMAKER_MODEL_DIR, "model.json"))) return SAGEMAKER_MODEL_DIR;
  const production = await readProduction(store);
  if (!production) {
    throw new InputError(
      `no model to serve: ${SAGEMAKER_MODEL_DIR} is empty and ${store.location} has no production model`,
      { field: "serve.model" },
      "pass --model DIR (a `pipeline train` artifact), or promote one with: npx pipeline run",
    );
  }
  return runModelDir(store, production.runId, join(".mlops", "cache"));
}

/**
 * The newest run whose train stage succeeded: what `evaluate`, `card` and `promote` default to in
 * a folder store. An S3 store is shared (every pull request's runs are there), so there the run
 * must be named: the newest one may be somebody else's candidate.
 */
async function newestTrainedRun(store: ReturnType<typeof openStore>): Promise<string> {
  if (store.location.startsWith("s3://")) {
    throw new InputError(
      `which run? The run store ${store.location} is shared, and its newest trained run may be another pull request's`,
      { field: "--run-id" },
      `Pass --run-id ID (npx pipeline runs --store ${store.location} lists them).`,
    );
  }
  for (const run of await listRuns(store)) {
    if (run.stages.some((s) => s.stage === "train" && s.status === "succeeded")) return run.runId;
  }
  throw new InputError(
    `no run in ${store.location} has a trained model`,
    {},
    "train one with: npx pipeline run (or pass --run-id ID)",
  );
}

/** The newest run whose train stage started (it has a checkpoint) but did not succeed. */
async function unfinishedTraining(store: ReturnType<typeof openStore>): Promise<string> {
  for (const run of await listRuns(store)) {
    const train = run.stages.find((s) => s.stage === "train");
    if (train?.status === "succeeded") continue;
    if ((await store.list(`${stageKey(run.runId, "train", "checkpoint")}/`)).length > 0) {
      return run.runId;
    }
  }
  throw new InputError(
    `no run in ${store.location} has an unfinished training to resume`,
    {},
    "start a new training with: npx pipeline train (or pass --run-id ID)",
  );
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? 0 : 2;
    }
    const report = errorReport(error);
    const { message, hint, exitCode } = report;
    if (json && !(error instanceof ReportedVerdict)) {
      process.stdout.write(`${JSON.stringify({ error: message, hint, exitCode })}\n`);
    }
    process.stderr.write(errorLines(report));
    if (!(error instanceof PipelineError) && process.env.MLOPS_DEBUG) console.error(error);
    return exitCode;
  }
}
