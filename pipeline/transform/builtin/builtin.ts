/**
 * The built-in dbt-compatible runner end to end: read the project, render it, build the selected
 * nodes on the warehouse and return dbt's artifacts. It runs on DuckDB only: on Snowflake the
 * project is dbt-core's to run.
 */
import { InputError } from "../../errors.ts";
import type { Warehouse } from "../../warehouse/warehouse.ts";
import { manifest, newArtifactContext, runResults } from "./artifacts.ts";
import { buildProject, type NodeRun } from "./build.ts";
import { buildGraph, type DbtGraph } from "./graph.ts";
import { JinjaRenderer, type TargetInfo } from "./jinja.ts";
import { loadProject, profileSchema } from "./project.ts";
import { select } from "./selection.ts";

export interface BuiltinOptions {
  projectDir: string;
  /** The profile target to read the schema from, and the adapter type. */
  target: "duckdb";
  vars: Record<string, unknown>;
  selectors: string[];
  fullRefresh?: boolean;
  env?: NodeJS.ProcessEnv;
  onNode?: (run: NodeRun, index: number, total: number) => void;
}

export interface BuiltinOutcome {
  graph: DbtGraph;
  runs: NodeRun[];
  manifest: Record<string, unknown>;
  runResults: Record<string, unknown>;
}

/** Parses and renders the project without touching a warehouse (compile only). */
export function compileProject(
  projectDir: string,
  adapter: "duckdb" | "snowflake",
  vars: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): DbtGraph {
  const project = loadProject(projectDir);
  const target: TargetInfo = {
    name: adapter,
    type: adapter,
    schema:
      adapter === "duckdb"
        ? profileSchema(projectDir, project.profile, adapter, env)
        : (env.SNOWFLAKE_SCHEMA ?? "PUBLIC"),
    // dbt-duckdb names the database after the file; the connection already has it open.
    database: adapter === "duckdb" ? "main" : (env.SNOWFLAKE_DATABASE ?? ""),
    profile_name: project.profile,
    threads: 1,
  };
  const renderer = new JinjaRenderer(
    project.name,
    target,
    { ...project.vars, ...vars },
    project.macroFiles,
    env,
  );
  return buildGraph(project, renderer);
}

export async function runBuiltin(
  warehouse: Warehouse,
  options: BuiltinOptions,
): Promise<BuiltinOutcome> {
  if (warehouse.kind !== "duckdb") {
    throw new InputError(
      "the built-in dbt runner builds on DuckDB only; on Snowflake the transform stage needs dbt-core",
      { field: "transform.dbt" },
      "Install it with `pip install dbt-snowflake` (then `dbt` is on PATH and --dbt auto finds it), or set MLOPS_DBT to its path.",
    );
  }
  const started = Date.now();
  const graph = compileProject(options.projectDir, options.target, options.vars, options.env);
  const context = newArtifactContext({ ...graph.project.vars, ...options.vars }, options.selectors);
  const selection = select(graph, options.selectors);
  const runs = await buildProject(graph, warehouse, selection, {
    ...(options.fullRefresh === undefined ? {} : { fullRefresh: options.fullRefresh }),
    ...(options.onNode ? { onNode: options.onNode } : {}),
  });
  return {
    graph,
    runs,
    manifest: manifest(graph, context),
    runResults: runResults(runs, context, (Date.now() - started) / 1000),
  };
}
