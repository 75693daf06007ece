/**
 * The warehouse check of `pipeline doctor`: is the configured warehouse usable from here? DuckDB:
 * the file's folder is writable (and, probing, the file opens and answers `select 1`).
 * Snowflake: every SNOWFLAKE_* setting it needs is there (and, probing, it logs in and answers
 * `select 1`). Without the probe nothing is opened or contacted.
 */
import { existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import {
  clauses,
  hintOf,
  messageOf,
  nonEmpty,
  probeFolder,
  type DoctorCheck,
} from "../doctor-check.ts";
import { InputError, type PipelineError } from "../errors.ts";
import { DuckDbWarehouse } from "./duckdb.ts";
import {
  SNOWFLAKE_ENV,
  describeSnowflake,
  snowflakeSettingsFromEnv,
  type SnowflakeSettings,
} from "./snowflake/config.ts";
import type { SnowflakeDriver } from "./snowflake/connection.ts";
import { SnowflakeWarehouse } from "./snowflake/snowflake-warehouse.ts";

export async function checkWarehouse(
  spec: string,
  env: NodeJS.ProcessEnv,
  probe: boolean,
  driver: SnowflakeDriver | undefined,
): Promise<DoctorCheck> {
  if (spec === "snowflake") return checkSnowflake(env, probe, driver);
  if (!spec.startsWith("duckdb:")) {
    return {
      name: "warehouse",
      status: "fail",
      detail: `unknown warehouse "${spec}"`,
      fix: "pass --warehouse duckdb:PATH or --warehouse snowflake (or set MLOPS_WAREHOUSE)",
    };
  }
  return checkDuckDb(spec.slice("duckdb:".length), probe);
}

async function checkDuckDb(path: string, probe: boolean): Promise<DoctorCheck> {
  const fix =
    "pass --warehouse duckdb:PATH (or set MLOPS_WAREHOUSE) with a path in a writable folder";
  if (path === ":memory:") {
    return {
      name: "warehouse",
      status: "ok",
      detail: "duckdb in memory (nothing is kept between stages)",
    };
  }
  const exists = existsSync(path);
  if (exists && statSync(path).isDirectory()) {
    return {
      name: "warehouse",
      status: "fail",
      detail: `duckdb:${path} is a folder, not a database file`,
      fix,
    };
  }
  const folder = probeFolder(dirname(path));
  if (folder.problem !== undefined) {
    return { name: "warehouse", status: "fail", detail: `duckdb:${path}: ${folder.problem}`, fix };
  }
  const state = exists ? "exists" : "does not exist yet (the upload stage creates it)";
  if (!probe) {
    return {
      name: "warehouse",
      status: "ok",
      detail: `duckdb:${path} ${state}; folder ${folder.detail}`,
    };
  }
  // A file that is not there yet is not created by a check: an in-memory database still proves
  // that DuckDB's native binding loads on this machine.
  try {
    const warehouse = await DuckDbWarehouse.open(exists ? path : ":memory:");
    try {
      await warehouse.query("select 1 as one");
    } finally {
      await warehouse.close();
    }
  } catch (error) {
    return {
      name: "warehouse",
      status: "fail",
      detail: messageOf(error),
      fix: /lock/i.test(messageOf(error))
        ? "another process holds the DuckDB file: wait for it or stop it"
        : `reinstall the DuckDB binding with npm ci; if the file is damaged, delete ${path} and run npx pipeline upload`,
    };
  }
  return {
    name: "warehouse",
    status: "ok",
    detail: `duckdb:${path} ${state}; ${exists ? "opened it and ran select 1" : "DuckDB opens (in memory)"}`,
  };
}

async function checkSnowflake(
  env: NodeJS.ProcessEnv,
  probe: boolean,
  driver: SnowflakeDriver | undefined,
): Promise<DoctorCheck> {
  const read = readSnowflakeSettings(env);
  if (read.settings === undefined) {
    const detail = [
      ...(read.missing.length > 0 ? [`missing ${read.missing.join(", ")}`] : []),
      ...(read.problem !== undefined ? [read.problem] : []),
    ].join("; ");
    const fixes = [
      ...(read.missing.length > 0
        ? [`set ${read.missing.join(", ")} (repository secrets or variables in CI)`]
        : []),
      ...(read.hint !== undefined ? [read.hint] : []),
      "or use --warehouse duckdb:PATH",
    ];
    return { name: "warehouse", status: "fail", detail, fix: clauses(fixes) };
  }
  const settings = read.settings;
  const keyPath = settings.auth.kind === "keypair" ? settings.auth.privateKeyPath : undefined;
  if (keyPath !== undefined && !existsSync(keyPath)) {
    return {
      name: "warehouse",
      status: "fail",
      detail: `${SNOWFLAKE_ENV.privateKeyPath} names ${keyPath}, which does not exist`,
      fix: `point ${SNOWFLAKE_ENV.privateKeyPath} at the PKCS#8 PEM key file, or put its text in ${SNOWFLAKE_ENV.privateKey}`,
    };
  }
  const described = describeSnowflake(settings);
  if (!probe) {
    return {
      name: "warehouse",
      status: "ok",
      detail: `${described} (settings only, not contacted)`,
    };
  }
  const warehouse = SnowflakeWarehouse.fromEnv(env, {
    ...(driver ? { driver } : {}),
    // One try: doctor reports what is wrong now rather than waiting out a backoff.
    retry: { attempts: 1 },
    log: () => undefined,
  });
  try {
    await warehouse.connect();
    await warehouse.query("select 1 as one");
  } catch (error) {
    return {
      name: "warehouse",
      status: "fail",
      detail: `${described}: ${messageOf(error)}`,
      fix:
        hintOf(error) ?? "check the SNOWFLAKE_* settings and that this machine can reach Snowflake",
    };
  } finally {
    await warehouse.close();
  }
  return { name: "warehouse", status: "ok", detail: `${described}: logged in and ran select 1` };
}

interface SnowflakeReading {
  settings?: SnowflakeSettings;
  /** Required variables that are unset, all of them. */
  missing: string[];
  /** The first other problem (contradictory or invalid settings, no credentials). */
  problem?: string;
  hint?: string;
}

/**
 * snowflakeSettingsFromEnv stops at the first unset variable. To name every missing one in a
 * single report, each is filled with a placeholder (for this reading only) and the settings are
 * read again; the placeholder never reaches a message, since only the variable's name is kept.
 */
function readSnowflakeSettings(env: NodeJS.ProcessEnv): SnowflakeReading {
  const probeEnv: NodeJS.ProcessEnv = { ...env };
  const missing: string[] = [];
  for (;;) {
    try {
      const settings = snowflakeSettingsFromEnv(probeEnv);
      return missing.length > 0 ? { missing } : { settings, missing };
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      const variable = error.where.field;
      const unset =
        variable !== undefined &&
        !missing.includes(variable) &&
        nonEmpty(probeEnv[variable]) === undefined &&
        error.message.includes(`${variable} is not set`);
      if (!unset) return { missing, problem: stripLocation(error), ...hintField(error) };
      missing.push(variable);
      probeEnv[variable] = "PLACEHOLDER";
    }
  }
}

function hintField(error: PipelineError): { hint?: string } {
  return error.hint !== undefined ? { hint: error.hint } : {};
}

/** An InputError's message without the `field "X": ` prefix (the message names it already). */
function stripLocation(error: InputError): string {
  return error.message.replace(/^field "[^"]*": /, "");
}
