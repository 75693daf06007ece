/**
 * The transform stage: `dbt build` of dbt/ on the warehouse, by dbt-core when it is installed
 * and by the built-in runner otherwise. Writes dbt's artifacts to the run store, returns the DAG
 * with row counts, timings and test results, and fails (exit 1) when an error-severity test or
 * a model failed, with a table of the failures and sample rows.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/config.ts";
import { InputError, StageFailure } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { runBuiltin } from "./builtin/builtin.ts";
import {
  dagFromArtifacts,
  summarize,
  type DbtManifest,
  type DbtRunResults,
  type TransformDag,
} from "./dag.ts";
import { dbtTargetFor, findDbt, runDbtCore } from "./dbt-core.ts";
import { snowflakeSettingsFromEnv } from "../warehouse/snowflake/config.ts";
import { projectInput, rawInputs } from "./inputs.ts";
import { formatFailures } from "./report.ts";
import type { FailedTest, TransformResult } from "./result.ts";

export type { FailedTest, TransformResult } from "./result.ts";

export const DEFAULT_PROJECT_DIR = fileURLToPath(new URL("../../dbt", import.meta.url));
const SAMPLE_ROWS = 5;

export interface TransformOptions {
  /** dbt selectors (`model`, `model+`, `+model`, `tag:x`); empty: the whole project. */
  select?: string[];
}

/** What the transform reads and writes, handed in explicitly as every stage's inputs are. */
export interface TransformInput extends TransformOptions {
  config: Config;
  runId: string;
  store: ArtifactStore;
  reporter: Reporter;
  /**
   * The warehouse, opened when needed; released before dbt-core runs on DuckDB, which opens the
   * file itself (another process cannot while this one holds it).
   */
  warehouse: { open(): Promise<Warehouse>; release(): Promise<void> };
}

/** The dbt vars the pipeline's settings set (the rest keep dbt_project.yml's values). */
export function dbtVars(config: Config): Record<string, unknown> {
  const t = config.transform;
  if (t.trainFraction + t.validationFraction >= 1) {
    throw new InputError(
      `transform.trainFraction + transform.validationFraction must be below 1 (test gets the rest), got ${t.trainFraction} + ${t.validationFraction}`,
      { field: "transform.validationFraction" },
    );
  }
  return {
    session_gap_minutes: t.sessionGapMinutes,
    sequence_actions: t.sequenceActions.split(","),
    collapse_repeats: t.collapseRepeats,
    train_fraction: t.trainFraction,
    validation_fraction: t.validationFraction,
  };
}

/**
 * What the transform needs before it reads anything: the dbt project, and dbt-core where the
 * built-in runner cannot go (Snowflake). Checked first by the stage and by its cache key alike,
 * so a missing piece is named before any connection is tried.
 */
export function transformPreflight(config: Config): {
  projectDir: string;
  target: "duckdb" | "snowflake";
  executable: string | undefined;
} {
  const projectDir = config.transform.project
    ? resolve(config.transform.project)
    : DEFAULT_PROJECT_DIR;
  if (!existsSync(join(projectDir, "dbt_project.yml"))) {
    throw new InputError(
      `no dbt project in ${projectDir} (no dbt_project.yml)`,
      { field: "transform.project" },
      "Point --dbt-project (MLOPS_DBT_PROJECT) at the folder holding dbt_project.yml.",
    );
  }
  const target = config.warehouse === "snowflake" ? "snowflake" : "duckdb";
  const executable = findDbt(config.transform.dbt);
  if (!executable && target === "snowflake") {
    throw new InputError(
      "the transform stage on Snowflake needs dbt-core, and no dbt executable was found",
      { field: "transform.dbt" },
      "Install it with `pip install dbt-snowflake` (the CI workflows do), or set MLOPS_DBT to the dbt executable.",
    );
  }
  return { projectDir, target, executable };
}

export async function transform(input: TransformInput): Promise<TransformResult> {
  const started = Date.now();
  const { config, reporter } = input;
  const selectors = input.select ?? [];
  const { projectDir, target, executable } = transformPreflight(config);
  const vars = dbtVars(config);

  // Read before dbt-core may need the DuckDB file to itself.
  const raw = await rawInputs(await input.warehouse.open());
  if (raw.length === 0) {
    throw new InputError(
      `the warehouse ${(await input.warehouse.open()).description} holds no loaded raw data`,
      { field: "warehouse" },
      "Run `npx pipeline upload` first (or `npx pipeline run`, which uploads, then transforms).",
    );
  }
  const inputs = [projectInput(projectDir), ...raw];

  let manifest: DbtManifest & Record<string, unknown>;
  let results: DbtRunResults & Record<string, unknown>;
  if (executable) {
    // dbt-duckdb opens the DuckDB file itself: this process must let go of it first.
    if (target === "duckdb") await input.warehouse.release();
    const targetPath = await mkdtemp(join(tmpdir(), "mlops-dbt-target-"));
    try {
      const outcome = await runDbtCore({
        executable,
        projectDir,
        // The same SNOWFLAKE_* variables the warehouse connection read decide the profile.
        target: dbtTargetFor(
          target === "duckdb" ? "duckdb" : snowflakeSettingsFromEnv(process.env).auth,
        ),
        targetPath,
        vars,
        selectors,
        reporter,
        ...(target === "duckdb" ? { duckdbPath: config.warehouse.slice("duckdb:".length) } : {}),
      });
      manifest = outcome.manifest;
      results = outcome.runResults;
    } finally {
      await rm(targetPath, { recursive: true, force: true });
    }
  } else {
    const outcome = await runBuiltin(await input.warehouse.open(), {
      projectDir,
      target: "duckdb",
      vars,
      selectors,
      onNode: (run, index, total) =>
        reporter.info(
          `  ${String(index).padStart(String(total).length)}/${total} ${run.status.toUpperCase().padEnd(7)} ${run.uniqueId.split(".").slice(2).join(".")}${run.rows === null ? "" : ` (${run.rows} rows)`} in ${run.executionTime.toFixed(2)} s`,
        ),
    });
    manifest = outcome.manifest as unknown as DbtManifest & Record<string, unknown>;
    results = outcome.runResults as unknown as DbtRunResults & Record<string, unknown>;
  }

  const artifacts = {
    manifest: stageKey(input.runId, "transform", "manifest.json"),
    runResults: stageKey(input.runId, "transform", "run_results.json"),
  };
  await input.store.put(artifacts.manifest, JSON.stringify(manifest, null, 2));
  await input.store.put(artifacts.runResults, JSON.stringify(results, null, 2));

  const warehouse = await input.warehouse.open();
  const dag = dagFromArtifacts(manifest, results, !executable);
  await countRows(dag, warehouse);
  const failedTests = await failingTests(dag, results, warehouse);
  const splitsNode = dag.nodes.find(
    (n) => n.type === "model" && n.name === "session_splits" && n.status === "success",
  );
  const splits = splitsNode?.relation
    ? await splitSizes(warehouse, splitsNode.relation)
    : undefined;
  const result: TransformResult = {
    engine: executable ? "dbt-core" : "builtin",
    target,
    projectDir,
    selected: selectors,
    vars,
    dag,
    summary: summarize(dag),
    ...(splits ? { splits } : {}),
    failedTests,
    artifacts,
    inputs,
    seconds: (Date.now() - started) / 1000,
  };
  return result;
}

/** dbt-core's adapters do not report row counts: count what was built. */
async function countRows(dag: TransformDag, warehouse: Warehouse): Promise<void> {
  for (const node of dag.nodes) {
    if (node.type !== "model" || node.status !== "success" || node.rows !== undefined) continue;
    if (!node.relation) continue;
    const rows = await warehouse.query(`select count(*) as n from ${node.relation}`);
    node.rows = Number(rows[0]?.n ?? 0);
  }
}

/** Failed, errored and warning tests, each with the first rows its query returns. */
async function failingTests(
  dag: TransformDag,
  results: DbtRunResults,
  warehouse: Warehouse,
): Promise<FailedTest[]> {
  const compiled = new Map(
    (results.results as { unique_id: string; compiled_code?: string | null }[]).map((r) => [
      r.unique_id,
      r.compiled_code ?? "",
    ]),
  );
  const out: FailedTest[] = [];
  for (const node of dag.nodes) {
    if (node.type !== "test" || !["fail", "warn", "error"].includes(node.status ?? "")) continue;
    const sql = compiled.get(node.id) ?? "";
    // Samples illustrate a failure the count already established: a sample query that fails
    // (the warehouse changed since) leaves the sample empty rather than hiding the failure.
    const sample =
      node.status === "error" || sql === ""
        ? []
        : await warehouse
            .query(
              `select * from (\n${sql.trim().replace(/;\s*$/, "")}\n) as failing limit ${SAMPLE_ROWS}`,
            )
            .catch(() => []);
    out.push({
      id: node.id,
      name: node.name,
      status: node.status ?? "",
      severity: node.severity ?? "error",
      failures: node.failures ?? null,
      ...(node.tested ? { tested: node.tested } : {}),
      ...(node.column ? { column: node.column } : {}),
      ...(node.message ? { message: node.message } : {}),
      sample,
    });
  }
  return out;
}

async function splitSizes(
  warehouse: Warehouse,
  relation: string,
): Promise<Record<"train" | "validation" | "test", number>> {
  const rows = await warehouse.query(`select split, count(*) as n from ${relation} group by split`);
  const sizes = { train: 0, validation: 0, test: 0 };
  for (const row of rows) {
    const split = String(row.split);
    if (split === "train" || split === "validation" || split === "test")
      sizes[split] = Number(row.n);
  }
  return sizes;
}

/** The stage fails when a model failed or an error-severity test failed; warnings pass. */
export function transformFailure(result: TransformResult): StageFailure | undefined {
  const failedModels = result.dag.nodes.filter((n) => n.type === "model" && n.status === "error");
  const failedTests = result.failedTests.filter((t) => t.status === "fail" || t.status === "error");
  if (failedModels.length === 0 && failedTests.length === 0) return undefined;
  const parts: string[] = [];
  if (failedModels.length) parts.push(`${failedModels.length} model(s) failed`);
  if (failedTests.length) parts.push(`${failedTests.length} dbt test(s) failed`);
  return new StageFailure(
    `dbt build: ${parts.join(", ")}\n${formatFailures(result)}`,
    result,
    `The full results are in ${result.artifacts.runResults} in the run store.`,
  );
}
