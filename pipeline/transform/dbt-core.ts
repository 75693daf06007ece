/**
 * dbt-core, when installed: finds the `dbt` executable, runs `dbt build` with the target and vars
 * the pipeline's settings give, streams its log, and reads the artifacts it writes.
 */
import { spawn } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve } from "node:path";
import { InputError, PipelineError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import type { SnowflakeAuth } from "../warehouse/snowflake/config.ts";
import type { DbtManifest, DbtRunResults } from "./dag.ts";

/** The dbt executable to use, or undefined for the built-in runner. */
export function findDbt(setting: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (setting === "builtin") return undefined;
  if (setting !== "auto") {
    const path = resolve(setting);
    if (!isExecutable(path)) {
      throw new InputError(
        `the dbt executable ${path} does not exist or cannot be run`,
        { field: "transform.dbt" },
        "Set transform.dbt (MLOPS_DBT, --dbt) to auto, builtin or the path of dbt.",
      );
    }
    return path;
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, process.platform === "win32" ? "dbt.exe" : "dbt");
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return existsSync(path);
  } catch {
    return false;
  }
}

/**
 * The profiles.yml target (dbt/profiles.yml) for a warehouse: DuckDB, Snowflake with a password
 * or key pair, or Snowflake by workload identity, whose profile needs other fields.
 */
export type DbtTarget = "duckdb" | "snowflake" | "snowflake_workload_identity";

export function dbtTargetFor(warehouse: "duckdb" | SnowflakeAuth): DbtTarget {
  if (warehouse === "duckdb") return "duckdb";
  return warehouse.kind === "oidc" ? "snowflake_workload_identity" : "snowflake";
}

export interface DbtCoreOptions {
  executable: string;
  projectDir: string;
  target: DbtTarget;
  targetPath: string;
  vars: Record<string, unknown>;
  selectors: string[];
  /** DuckDB: the warehouse file, handed to the profile as DBT_DUCKDB_PATH. */
  duckdbPath?: string;
  reporter: Reporter;
  env?: NodeJS.ProcessEnv;
}

export interface DbtCoreOutcome {
  exitCode: number;
  manifest: DbtManifest & Record<string, unknown>;
  runResults: DbtRunResults & Record<string, unknown>;
}

export function dbtBuildArgs(options: Omit<DbtCoreOptions, "executable" | "reporter">): string[] {
  return [
    "build",
    "--project-dir",
    options.projectDir,
    "--profiles-dir",
    options.projectDir,
    "--target",
    options.target,
    "--target-path",
    options.targetPath,
    "--vars",
    JSON.stringify(options.vars),
    ...(options.selectors.length ? ["--select", ...options.selectors] : []),
  ];
}

export async function runDbtCore(options: DbtCoreOptions): Promise<DbtCoreOutcome> {
  const args = dbtBuildArgs(options);
  options.reporter.info(`running ${options.executable} ${args.join(" ")}`);
  const env = {
    ...(options.env ?? process.env),
    ...(options.duckdbPath
      ? {
          DBT_DUCKDB_PATH: isAbsolute(options.duckdbPath)
            ? options.duckdbPath
            : resolve(options.duckdbPath),
        }
      : {}),
  };
  const exitCode = await new Promise<number>((done, fail) => {
    const child = spawn(options.executable, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n"))
        if (line.trim()) options.reporter.info(`  dbt: ${line}`);
    };
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.on("error", fail);
    child.on("close", (code) => done(code ?? 1));
  });
  // dbt exits 1 when a node failed (the artifacts tell which) and 2 when it could not run at all.
  if (exitCode !== 0 && exitCode !== 1) {
    throw new PipelineError(
      `dbt build exited with ${exitCode} before building (see its log above)`,
      1,
      "Run the same dbt build command by hand to see the whole error.",
    );
  }
  const read = async <T>(name: string): Promise<T> => {
    const path = join(options.targetPath, name);
    try {
      return JSON.parse(await readFile(path, "utf8")) as T;
    } catch (error) {
      throw new PipelineError(`dbt build wrote no readable ${path}: ${(error as Error).message}`);
    }
  };
  return {
    exitCode,
    manifest: await read("manifest.json"),
    runResults: await read("run_results.json"),
  };
}
