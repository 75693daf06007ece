/**
 * `--compute batch`: the train stage as an AWS Batch job running this same CLI
 * (`pipeline train --compute local`) in containers/train.Dockerfile. The job reads the splits
 * from a warehouse it can reach and writes the artifact and its stage record into the S3 run
 * store; this side waits, streams the job's log, then reads that record back.
 */
import { fileURLToPath } from "node:url";
import { BatchClient } from "@aws-sdk/client-batch";
import { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { getPath, type Config } from "../config/config.ts";
import { SETTINGS } from "../config/settings.ts";
import { InputError, PipelineError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import { readStageResult } from "../run/results.ts";
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { TrainResult } from "../train/train.ts";
import { interruptSignal, runBatchTraining, type BatchTrainingResult } from "./batch.ts";
import { needsOidcToken, SNOWFLAKE_ENV } from "../warehouse/snowflake/config.ts";
import { resolveBatchSettings } from "./batch-settings.ts";
import { resolveImage } from "./images.ts";
import { publishCodePackage, type PublishedCodePackage } from "./code-package.ts";
import { gitSha } from "../run/versions.ts";

/** The checkout this CLI runs from: its code is what the job runs (two folders up from here). */
const CHECKOUT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Secrets, and a key file path that only exists on this machine. */
const SECRET_SNOWFLAKE_ENV: ReadonlySet<string> = new Set([
  SNOWFLAKE_ENV.password,
  SNOWFLAKE_ENV.privateKey,
  SNOWFLAKE_ENV.passphrase,
  SNOWFLAKE_ENV.token,
  SNOWFLAKE_ENV.privateKeyPath,
]);

export interface BatchTrainResult extends TrainResult {
  batchJob: Omit<BatchTrainingResult, "status">;
  /** The code the job ran: the checkout's package, by its address. */
  codePackage: Omit<PublishedCodePackage, "url">;
}

/** Settings the job's `pipeline train` gets as flags; compute and backend the job sets itself. */
function trainArgs(config: Config): string[] {
  const args: string[] = [];
  for (const spec of SETTINGS) {
    if (!spec.flag || !/^(train|model)\./.test(spec.key)) continue;
    if (spec.key === "train.compute" || spec.key === "train.backend") continue;
    const value = getPath(config, spec.key);
    if (value !== undefined) args.push(spec.flag, String(value));
  }
  return args;
}

/**
 * The Snowflake connection settings that are not secrets, as this side has them. Credentials
 * (password, private key) never go into a job definition by value: compute.batch.secrets names
 * them by ARN and ECS puts them in the container's environment when it starts.
 */
function snowflakeConnection(env: NodeJS.ProcessEnv): Record<string, string> {
  const names = Object.values(SNOWFLAKE_ENV).filter((name) => !SECRET_SNOWFLAKE_ENV.has(name));
  const connection = Object.fromEntries(
    names.flatMap((name) => (env[name] ? [[name, env[name] as string]] : [])),
  );
  // Workload identity with GitHub's OIDC token here (minted or not yet): the job has no GitHub
  // token, so it proves its AWS identity (the job role, registered with the Snowflake user as an
  // AWS workload identity: infra/snowflake/setup.sql) instead.
  if (needsOidcToken({ ...env, [SNOWFLAKE_ENV.token]: undefined })) {
    connection[SNOWFLAKE_ENV.provider] = "AWS";
  }
  return connection;
}

export async function trainOnBatch(input: {
  config: Config;
  runId: string;
  store: ArtifactStore;
  reporter: Reporter;
  /** The checkout whose code the job runs (default: the one this CLI runs from). */
  checkoutRoot?: string;
}): Promise<BatchTrainResult> {
  const { config, runId, reporter } = input;
  if (!config.store.startsWith("s3://")) {
    throw new InputError(
      `--compute batch needs an S3 run store the job can write to, not "${config.store}"`,
      { field: "store" },
      "pass --store s3://bucket/prefix (or set MLOPS_STORE)",
    );
  }
  if (config.warehouse !== "snowflake") {
    throw new InputError(
      `--compute batch needs a warehouse the job can reach; "${config.warehouse}" is a file on this machine`,
      { field: "warehouse" },
      "use --warehouse snowflake with --compute batch, or train here with --compute local",
    );
  }
  const { image } = config.compute.batch;
  // A repository without a tag runs the train image built for this checkout's lockfile.
  const settings = resolveBatchSettings({
    ...config.compute.batch,
    ...(image ? { image: resolveImage(image, "train", input.checkoutRoot) } : {}),
  });
  const code = await publishCodePackage(input.store, input.checkoutRoot ?? CHECKOUT_ROOT);
  reporter.info(
    `code package ${code.sha256.slice(0, 12)}: ${code.files} files, ${Math.ceil(code.bytes / 1024)} KiB, at ${code.url}`,
  );
  const commit = gitSha();
  const interrupt = interruptSignal();
  let job: BatchTrainingResult;
  try {
    job = await runBatchTraining({
      batch: new BatchClient({ region: settings.region }),
      logs: new CloudWatchLogsClient({ region: settings.region }),
      settings,
      runId,
      storeUrl: config.store,
      trainArgs: trainArgs(config),
      codePackageUrl: code.url,
      ...(commit ? { gitSha: commit } : {}),
      environment: {
        MLOPS_WAREHOUSE: config.warehouse,
        MLOPS_TENANT: config.tenant,
        ...snowflakeConnection(process.env),
      },
      reporter,
      signal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
  }
  const record = await readStageResult(input.store, runId, "train");
  if (record?.status !== "succeeded" || record.result === null) {
    throw new PipelineError(
      `AWS Batch job ${job.jobId} succeeded but wrote no successful train record to ${config.store}/${stageKey(runId, "train", "")}`,
      1,
      "check the job's log above and that its role may write to the store",
    );
  }
  const { status: _status, ...batchJob } = job;
  const { url: _url, ...codePackage } = code;
  return { ...record.result, compute: "batch", batchJob, codePackage };
}
