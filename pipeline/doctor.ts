/**
 * `pipeline doctor`: checks this machine and the configuration before a run does, and says what
 * to fix. Every check reads local facts only (files, environment variables, installed packages);
 * the one exception is the warehouse probe (warehouse/probe.ts), which opens the DuckDB file or
 * logs in to Snowflake when asked. No AWS API is called: AWS settings are checked for presence
 * and shape, credentials by where the SDK would find them (compute/aws-credentials.ts). The
 * checks that belong to one module live beside it; this file runs them all and prints the report.
 */
import { readFileSync } from "node:fs";
import { sageMakerSettings } from "./promote/promote.ts";
import { awsCredentials, credentialsCheck } from "./compute/aws-credentials.ts";
import { resolveBatchSettings } from "./compute/batch-settings.ts";
import type { Config } from "./config/config.ts";
import { SETTINGS } from "./config/settings.ts";
import {
  clauses,
  hintOf,
  messageOf,
  nonEmpty,
  probeFolder,
  type CheckStatus,
  type DoctorCheck,
} from "./doctor-check.ts";
import {
  validateSageMakerSettings,
  type ValidSageMakerSettings,
} from "./promote/sagemaker-settings.ts";
import { parseS3Url } from "./store/s3-store.ts";
import { selectBackend, type BackendSelection } from "./train/backend.ts";
import { findDbt } from "./transform/dbt-core.ts";
import { checkWarehouse } from "./warehouse/probe.ts";
import type { SnowflakeDriver } from "./warehouse/snowflake/connection.ts";
import { findChromium } from "../reports/screenshot.ts";
import { checkLevels, type LevelInputs } from "./config/levels.ts";

export type { CheckStatus, DoctorCheck } from "./doctor-check.ts";

export interface DoctorReport {
  /** False when any check failed; warnings keep it true. */
  ok: boolean;
  checks: DoctorCheck[];
}

/** How tfjs backends are loaded (tests simulate absent or broken ones): see selectBackend. */
export type BackendLoaders = NonNullable<Parameters<typeof selectBackend>[1]>;

export interface DoctorOptions {
  /** Default: process.env. Secrets in it are never printed, only variable names. */
  env?: NodeJS.ProcessEnv;
  loaders?: BackendLoaders;
  /** Open the warehouse and run `select 1` (DuckDB: the file; Snowflake: a login). */
  probeWarehouse?: boolean;
  /** Default: the running Node's version. */
  nodeVersion?: string;
  /** Default: snowflake-sdk; tests pass a stand-in. */
  snowflakeDriver?: SnowflakeDriver;
  /**
   * The repository's variables and secret names, for the level checks (default: the
   * environment's, and the names of the secrets set in it).
   */
  levels?: LevelInputs;
}

export async function runDoctor(
  config: Config,
  options: DoctorOptions = {},
): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  const checks: DoctorCheck[] = [];
  const run = async (name: string, check: () => DoctorCheck | Promise<DoctorCheck>) => {
    try {
      checks.push(await check());
    } catch (error) {
      // A check that breaks in an unforeseen way is still a finding, not a crashed doctor.
      checks.push({
        name,
        status: "fail",
        detail: messageOf(error),
        fix: hintOf(error) ?? "report this as a bug, with the detail above",
      });
    }
  };
  await run("node", () => checkNode(options.nodeVersion ?? process.versions.node));
  await run("backend", () => checkBackend(config.train.backend, options.loaders));
  await run("store", () => checkStore(config.store, env));
  await run("warehouse", () =>
    checkWarehouse(config.warehouse, env, options.probeWarehouse === true, options.snowflakeDriver),
  );
  await run("transform", () => checkTransform(config, env));
  await run("compute", () => checkCompute(config, env));
  await run("promote", () => checkPromote(config, env));
  await run("chromium", () => checkChromium(config.card.screenshot, env));
  for (const check of checkLevels(options.levels ?? levelInputsFromEnv(env))) checks.push(check);
  return { ok: checks.every((c) => c.status !== "fail"), checks };
}

// --- node ------------------------------------------------------------------------------------

function checkNode(version: string): DoctorCheck {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    engines?: { node?: string };
  };
  const range = pkg.engines?.node ?? "";
  const minimum = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(range.trim())?.[1];
  if (minimum === undefined) {
    return {
      name: "node",
      status: "warn",
      detail: `Node ${version}; package.json's engines.node "${range}" is not a ">=X.Y" range doctor can check`,
      fix: 'write engines.node in package.json as ">=MAJOR.MINOR"',
    };
  }
  if (compareVersions(version, minimum) >= 0) {
    return { name: "node", status: "ok", detail: `Node ${version} (needs >= ${minimum})` };
  }
  return {
    name: "node",
    status: "fail",
    detail: `Node ${version} is older than ${minimum}, which package.json's engines asks for`,
    fix: `install Node.js ${minimum} or newer (e.g. nvm install --lts), then run npm ci again`,
  };
}

function compareVersions(a: string, b: string): number {
  const parts = (v: string) => v.replace(/^v/, "").split(/[.-]/).map(Number);
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] || 0) - (pb[i] || 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

// --- tfjs backend ----------------------------------------------------------------------------

async function checkBackend(
  preference: Config["train"]["backend"],
  loaders: BackendLoaders | undefined,
): Promise<DoctorCheck> {
  let selection: BackendSelection;
  try {
    selection = await selectBackend(preference, loaders);
  } catch (error) {
    return { name: "backend", status: "fail", detail: messageOf(error), fix: hintOf(error) };
  }
  const skipped = selection.skipped.map((s) => `${s.name}: ${shortReason(s.why)}`);
  const detail = [`${selection.name}, ${selection.reason}`, ...skipped].join("; ");
  if (preference === "auto" && (selection.name === "wasm" || selection.name === "cpu")) {
    return {
      name: "backend",
      status: "warn",
      detail,
      fix: "npm install @tensorflow/tfjs-node@4.22.0 for faster local training (or @tensorflow/tfjs-node-gpu@4.22.0 with CUDA 11.2 + cuDNN 8.1 for a GPU)",
    };
  }
  return { name: "backend", status: "ok", detail };
}

/** Node's "Cannot find package 'x' imported from /long/path" says no more than this. */
function shortReason(why: string): string {
  return /Cannot find (package|module)/.test(why) ? "not installed" : why;
}

// --- run store -------------------------------------------------------------------------------

function checkStore(location: string, env: NodeJS.ProcessEnv): DoctorCheck {
  if (!location.startsWith("s3://")) {
    const probe = probeFolder(location);
    if (probe.problem !== undefined) {
      return {
        name: "store",
        status: "fail",
        detail: probe.problem,
        fix: "pass a writable folder with --store DIR (or set MLOPS_STORE), or fix the folder's permissions",
      };
    }
    return { name: "store", status: "ok", detail: `local folder ${probe.detail}` };
  }
  try {
    parseS3Url(location);
  } catch (error) {
    return {
      name: "store",
      status: "fail",
      detail: messageOf(error),
      fix: "pass --store s3://bucket/prefix (or set MLOPS_STORE) with a valid bucket name",
    };
  }
  const region = nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION);
  const endpoint = nonEmpty(env.MLOPS_S3_ENDPOINT);
  const where = `${location} (region ${region ?? "us-east-1, the default"}${endpoint ? `, endpoint ${endpoint}` : ""})`;
  const credentials = awsCredentials(env);
  const notFound = credentialsCheck("store", where, credentials);
  if (notFound) return notFound;
  return {
    name: "store",
    status: "ok",
    detail: `${where}, credentials from ${credentials.source} (not contacted)`,
  };
}

// --- transform -------------------------------------------------------------------------------

function checkTransform(config: Config, env: NodeJS.ProcessEnv): DoctorCheck {
  const onSnowflake = config.warehouse === "snowflake";
  let dbt: string | undefined;
  try {
    dbt = findDbt(config.transform.dbt, env);
  } catch (error) {
    return { name: "transform", status: "fail", detail: messageOf(error), fix: hintOf(error) };
  }
  if (dbt !== undefined) return { name: "transform", status: "ok", detail: `dbt-core at ${dbt}` };
  const why =
    config.transform.dbt === "builtin" ? "transform.dbt is builtin" : "no dbt executable on PATH";
  if (onSnowflake) {
    return {
      name: "transform",
      status: "fail",
      detail: `${why}, and the built-in runner only runs on DuckDB: transforming in Snowflake needs dbt-core`,
      fix: "pip install dbt-snowflake (the CI workflows do), or set MLOPS_DBT to the dbt executable",
    };
  }
  return {
    name: "transform",
    status: "ok",
    detail: `${why}: the built-in dbt-compatible runner is used (dbt-core with dbt-duckdb is used when installed)`,
  };
}

// --- compute ---------------------------------------------------------------------------------

function checkCompute(config: Config, env: NodeJS.ProcessEnv): DoctorCheck {
  if (config.train.compute === "local") {
    return { name: "compute", status: "ok", detail: "local: training runs in this process" };
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  if (!config.store.startsWith("s3://")) {
    problems.push(`the Batch job cannot write to the local store ${config.store}`);
    fixes.push("pass --store s3://bucket/prefix (or set MLOPS_STORE)");
  }
  if (config.warehouse !== "snowflake") {
    problems.push(`the Batch job cannot reach the warehouse ${config.warehouse} on this machine`);
    fixes.push("use --warehouse snowflake");
  }
  let summary = "";
  try {
    const s = resolveBatchSettings(config.compute.batch, env);
    summary = `queue ${s.queue} in ${s.region}, image ${s.image}, ${s.gpus} GPU(s), ${s.vcpus} vCPUs, ${s.memoryMiB} MiB`;
  } catch (error) {
    problems.push(messageOf(error));
    const hint = hintOf(error);
    if (hint !== undefined) fixes.push(hint);
  }
  if (problems.length > 0) {
    return {
      name: "compute",
      status: "fail",
      detail: `batch: ${problems.join("; ")}`,
      fix: clauses([...fixes, "or train here with --compute local"]),
    };
  }
  return { name: "compute", status: "ok", detail: `batch: ${summary} (not contacted)` };
}

// --- promote ---------------------------------------------------------------------------------

function checkPromote(config: Config, env: NodeJS.ProcessEnv): DoctorCheck {
  if (config.promote.target === "local") {
    return {
      name: "promote",
      status: "ok",
      detail: "local: the registry in the run store and npx pipeline serve",
    };
  }
  const s = config.promote.sagemaker;
  const missing: string[] = [];
  if (!s.image) missing.push(`the serving image (${settingNames("promote.sagemaker.image")})`);
  if (!s.roleArn)
    missing.push(`the execution role ARN (${settingNames("promote.sagemaker.roleArn")})`);
  const modelData =
    s.modelData ??
    (config.store.startsWith("s3://") ? `${config.store}/sagemaker-models` : undefined);
  if (modelData === undefined) {
    missing.push(
      `where model.tar.gz goes: an S3 store (${settingNames("store")}) or ${settingNames("promote.sagemaker.modelData")}`,
    );
  }
  const fix =
    "set them in the config file, the environment or the flags; or promote with --target local";
  if (!s.image || !s.roleArn || modelData === undefined) {
    return {
      name: "promote",
      status: "fail",
      detail: `sagemaker: missing ${missing.join("; ")}`,
      fix,
    };
  }
  // The same settings deployToSageMaker is given.
  let valid: ValidSageMakerSettings;
  try {
    const settings = { ...sageMakerSettings(config, env), modelData };
    valid = validateSageMakerSettings(settings);
  } catch (error) {
    return {
      name: "promote",
      status: "fail",
      detail: `sagemaker: ${messageOf(error)}`,
      fix: hintOf(error) ?? fix,
    };
  }
  const summary = `sagemaker: endpoint ${valid.endpointName} in ${valid.region}, ${valid.instanceCount} × ${valid.instanceType}, model data ${valid.modelData}`;
  // An S3 store's check already covers the credentials; with a local store, only this one does.
  if (!config.store.startsWith("s3://")) {
    const notFound = credentialsCheck("promote", summary, awsCredentials(env));
    if (notFound) return notFound;
  }
  return {
    name: "promote",
    status: "ok",
    detail: `${summary} (not contacted)`,
  };
}

/** "key (env VAR, flag --x)" from the settings table, so the fix names what the user can set. */
function settingNames(key: string): string {
  const spec = SETTINGS.find((s) => s.key === key);
  if (!spec) return key;
  return `${key}, env ${spec.env}${spec.flag ? `, flag ${spec.flag}` : ""}`;
}

// --- levels ----------------------------------------------------------------------------------

/** Secrets the levels ask for by name; in the environment, set means present. */
const LEVEL_SECRETS = ["SNOWFLAKE_PRIVATE_KEY", "SNOWFLAKE_PASSWORD"];

function levelInputsFromEnv(env: NodeJS.ProcessEnv): LevelInputs {
  return {
    variables: env,
    secrets: new Set(LEVEL_SECRETS.filter((name) => (env[name] ?? "") !== "")),
  };
}

// --- chromium --------------------------------------------------------------------------------

function checkChromium(mode: Config["card"]["screenshot"], env: NodeJS.ProcessEnv): DoctorCheck {
  if (mode === "off") {
    return {
      name: "chromium",
      status: "skip",
      detail: "card.screenshot is off: no report screenshot",
    };
  }
  const found = findChromium(env);
  if (found !== undefined) {
    return { name: "chromium", status: "ok", detail: `${found} (for the report screenshot)` };
  }
  const where = nonEmpty(env.CHROMIUM_PATH)
    ? `CHROMIUM_PATH=${env.CHROMIUM_PATH} is not an executable file`
    : "no chromium, google-chrome or chromium-browser on PATH";
  return {
    name: "chromium",
    status: mode === "on" ? "fail" : "warn",
    detail: `${where}: ${mode === "on" ? "card.screenshot is on, so the card stage fails" : "the model card is written without the report screenshot"}`,
    fix: "apt-get install chromium (or set CHROMIUM_PATH to a Chrome/Chromium executable)",
  };
}

// --- report ----------------------------------------------------------------------------------

/** An aligned table of the checks, then the fixes of those that are not ok. */
export function formatDoctor(report: DoctorReport): string {
  const rows = [
    ["check", "status", "detail"],
    ...report.checks.map((c) => [c.name, c.status, c.detail]),
  ];
  const widths = [0, 1].map((i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    `${(r[0] ?? "").padEnd(widths[0] ?? 0)}  ${(r[1] ?? "").padEnd(widths[1] ?? 0)}  ${r[2] ?? ""}`;
  const lines = rows.map(line);
  lines.splice(1, 0, line(["-".repeat(widths[0] ?? 0), "-".repeat(widths[1] ?? 0), "------"]));
  const fixes = report.checks.filter((c) => c.fix !== undefined && c.status !== "ok");
  if (fixes.length > 0) {
    lines.push("", "To fix:");
    for (const c of fixes) lines.push(`  ${c.name} (${c.status}): ${c.fix}`);
  }
  const count = (status: CheckStatus) => report.checks.filter((c) => c.status === status).length;
  lines.push(
    "",
    `${report.ok ? "ready" : "not ready"}: ${count("ok")} ok, ${count("warn")} warning(s), ${count("fail")} failed, ${count("skip")} skipped`,
  );
  return lines.join("\n");
}
