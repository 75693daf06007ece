/**
 * Settings of the AWS Batch training path, declared like every other setting (key, environment
 * variable, flag, schema, default), with AWS Batch's naming rules the schemas check. The compute
 * module resolves and validates them before the first AWS call (compute/batch-settings.ts).
 */
import { z } from "zod";
import type { SettingSpec } from "./setting-spec.ts";

export interface BatchSettings {
  /** Job queue name or ARN; its compute environment must offer GPU instances when gpus > 0. */
  queue: string;
  /** Job definition name; a new revision is registered only when its properties change. */
  jobDefinition: string;
  /** The train image (containers/train.Dockerfile), e.g. an ECR URI with a tag or digest. */
  image: string;
  vcpus: number;
  memoryMiB: number;
  /** GPUs per job; 0 runs the same image on CPU instances. */
  gpus: number;
  /** Per-attempt limit; Batch stops the attempt after it (and does not retry a timeout). */
  timeoutSeconds: number;
  /** Attempts in all (1-10); retried only when the host went away, never on a training error. */
  retryAttempts: number;
  region: string;
  logGroup: string;
  /** Warn once the job waited this long in RUNNABLE (no capacity yet). */
  runnableWarnSeconds: number;
  /** Give up (and terminate the job) after this long in RUNNABLE. */
  runnableTimeoutSeconds: number;
  /** IAM role the container assumes (S3 access to the run store); else the instance role. */
  jobRoleArn?: string;
  /**
   * Secrets ECS puts in the container's environment at start, as `NAME=ARN,…` (Secrets Manager
   * secrets or SSM parameters): how the job gets SNOWFLAKE_PRIVATE_KEY without the value ever
   * being in the job definition. Needs `executionRoleArn`.
   */
  secrets?: string;
  /** The ECS task execution role, allowed to read `secrets` (secretsmanager:GetSecretValue). */
  executionRoleArn?: string;
}

/** Batch's own default log group for the awslogs driver. */
export const DEFAULT_LOG_GROUP = "/aws/batch/job";

// --- AWS Batch naming rules (RegisterJobDefinition, SubmitJob, CreateJobQueue) ---------------

const NAME = /^[A-Za-z0-9_-]{1,128}$/;
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const QUEUE_ARN = /^arn:aws[a-z-]*:batch:[a-z0-9-]+:\d{12}:job-queue\/[A-Za-z0-9_-]{1,128}$/;
/** Letters, digits, '-', '_', ':', '.', '/', '#' (Batch's rule), and '@' for digests. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._:/#@-]{0,254}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
export const LOG_GROUP = /^[\w.\-/#]{1,512}$/;

export function jobDefinitionNameProblem(name: string): string | undefined {
  return NAME.test(name)
    ? undefined
    : "must be 1-128 letters, digits, hyphens or underscores (AWS Batch job definition name)";
}

export function jobNameProblem(name: string): string | undefined {
  return JOB_NAME.test(name)
    ? undefined
    : "must be 1-128 letters, digits, hyphens or underscores, starting with a letter or digit (AWS Batch job name)";
}

export function queueProblem(queue: string): string | undefined {
  return NAME.test(queue) || QUEUE_ARN.test(queue)
    ? undefined
    : "must be a job queue name (1-128 letters, digits, hyphens or underscores) or a job queue ARN (arn:aws:batch:REGION:ACCOUNT:job-queue/NAME)";
}

export function imageProblem(image: string): string | undefined {
  return IMAGE.test(image)
    ? undefined
    : "must be an image reference of up to 255 letters, digits and - _ : . / # @ (e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/mlops-train:1.0)";
}

export function roleArnProblem(arn: string): string | undefined {
  return ROLE_ARN.test(arn)
    ? undefined
    : "must be an IAM role ARN (arn:aws:iam::123456789012:role/NAME)";
}

/** Names of environment variables Batch passes to the container. */
export function environmentNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    return "must be letters, digits and underscores, not starting with a digit";
  }
  // Batch reserves these for the variables it sets itself.
  return name.startsWith("AWS_BATCH") ? 'must not start with "AWS_BATCH" (reserved)' : undefined;
}

const SECRET_ARN = /^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:[\w+=,.@/:-]+$/;

/** `NAME=ARN,NAME=ARN` as a map; throws a RangeError saying which entry is wrong. */
export function parseBatchSecrets(text: string): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const entry of text.split(",").map((e) => e.trim())) {
    if (entry === "") continue;
    const at = entry.indexOf("=");
    const name = at < 0 ? entry : entry.slice(0, at);
    const arn = at < 0 ? "" : entry.slice(at + 1);
    const nameProblem = environmentNameProblem(name);
    if (nameProblem !== undefined)
      throw new RangeError(`"${entry}": the variable name ${nameProblem}`);
    if (!SECRET_ARN.test(arn)) {
      throw new RangeError(
        `"${entry}": expected NAME=ARN with a Secrets Manager secret or SSM parameter ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)`,
      );
    }
    if (name in secrets) throw new RangeError(`"${name}" is given twice`);
    secrets[name] = arn;
  }
  return secrets;
}

export function secretsProblem(text: string): string | undefined {
  try {
    parseBatchSecrets(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// --- the settings, declared for the config loader ---------------------------------------------

const positiveInt = z.number().int().positive();

/**
 * The `compute.batch.*` settings. The resource defaults are sized for one g4dn.xlarge (4 vCPUs,
 * 16 GiB, one T4): the ECS agent keeps part of the instance's memory, so asking for all 16,384 MiB
 * would leave the job RUNNABLE forever.
 */
export const BATCH_SETTING_SPECS: SettingSpec[] = [
  {
    key: "compute.batch.queue",
    env: "MLOPS_BATCH_QUEUE",
    flag: "--batch-queue",
    schema: z.string().refine((v) => queueProblem(v) === undefined),
    allowed: "a job queue name or ARN",
    description: "AWS Batch job queue for --compute batch (required then).",
    sensitive: true,
  },
  {
    key: "compute.batch.jobDefinition",
    env: "MLOPS_BATCH_JOB_DEFINITION",
    flag: "--batch-job-definition",
    default: "mlops-session-recs-train",
    schema: z.string().refine((v) => jobDefinitionNameProblem(v) === undefined),
    allowed: "1-128 letters, digits, '-' or '_'",
    description:
      "Job definition name; a new revision is registered only when image, resources or settings change.",
  },
  {
    key: "compute.batch.image",
    env: "MLOPS_BATCH_IMAGE",
    flag: "--batch-image",
    schema: z.string().refine((v) => imageProblem(v) === undefined),
    allowed: "an ECR repository URI, with or without a tag or digest",
    description:
      "Train image built from containers/train.Dockerfile (required for --compute batch). Without a tag, the checkout's tag (`pipeline images`).",
    sensitive: true,
  },
  {
    key: "compute.batch.vcpus",
    env: "MLOPS_BATCH_VCPUS",
    flag: "--batch-vcpus",
    default: 4,
    schema: positiveInt.max(256),
    numeric: true,
    allowed: "an integer from 1 to 256",
    description: "vCPUs per training job.",
  },
  {
    key: "compute.batch.memoryMiB",
    env: "MLOPS_BATCH_MEMORY_MIB",
    flag: "--batch-memory-mib",
    default: 15_000,
    schema: z.number().int().min(512),
    numeric: true,
    allowed: "an integer of at least 512",
    description: "Memory per training job in MiB (leave room for the ECS agent on the instance).",
  },
  {
    key: "compute.batch.gpus",
    env: "MLOPS_BATCH_GPUS",
    flag: "--batch-gpus",
    default: 1,
    schema: z.number().int().min(0).max(16),
    numeric: true,
    allowed: "an integer from 0 to 16",
    description: "GPUs per training job (0: CPU instances, tfjs picks its best CPU backend).",
  },
  {
    key: "compute.batch.timeoutSeconds",
    env: "MLOPS_BATCH_TIMEOUT_SECONDS",
    flag: "--batch-timeout-seconds",
    default: 7_200,
    schema: z.number().int().min(60),
    numeric: true,
    allowed: "an integer of at least 60 (Batch's minimum)",
    description: "Limit per attempt; Batch stops the attempt after it.",
  },
  {
    key: "compute.batch.retryAttempts",
    env: "MLOPS_BATCH_RETRY_ATTEMPTS",
    flag: "--batch-retry-attempts",
    default: 3,
    schema: z.number().int().min(1).max(10),
    numeric: true,
    allowed: "an integer from 1 to 10",
    description:
      "Attempts in all; a new attempt only when the instance went away (Spot reclaim), never after a training error.",
  },
  {
    key: "compute.batch.region",
    env: "MLOPS_BATCH_REGION",
    flag: "--batch-region",
    schema: z.string().regex(REGION),
    allowed: "an AWS region such as eu-west-1",
    description: "Region of the job queue (default: AWS_REGION, else us-east-1).",
  },
  {
    key: "compute.batch.logGroup",
    env: "MLOPS_BATCH_LOG_GROUP",
    flag: "--batch-log-group",
    default: DEFAULT_LOG_GROUP,
    schema: z.string().regex(LOG_GROUP),
    allowed: "a CloudWatch Logs group name",
    description: "Log group the job's container logs go to (the awslogs driver).",
  },
  {
    key: "compute.batch.runnableWarnSeconds",
    env: "MLOPS_BATCH_RUNNABLE_WARN_SECONDS",
    flag: "--batch-runnable-warn-seconds",
    default: 600,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Warn when the job waits this long in RUNNABLE (no instance yet).",
  },
  {
    key: "compute.batch.runnableTimeoutSeconds",
    env: "MLOPS_BATCH_RUNNABLE_TIMEOUT_SECONDS",
    flag: "--batch-runnable-timeout-seconds",
    default: 3_600,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Terminate the job and fail after this long in RUNNABLE.",
  },
  {
    key: "compute.batch.secrets",
    env: "MLOPS_BATCH_SECRETS",
    flag: "--batch-secrets",
    schema: z.string().refine((v) => secretsProblem(v) === undefined),
    allowed: "NAME=ARN pairs, comma-separated (Secrets Manager or SSM ARNs)",
    description:
      "Secrets ECS injects into the training container as variables, e.g. SNOWFLAKE_PRIVATE_KEY=arn:aws:secretsmanager:…; needs compute.batch.executionRoleArn.",
    sensitive: true,
  },
  {
    key: "compute.batch.executionRoleArn",
    env: "MLOPS_BATCH_EXECUTION_ROLE_ARN",
    flag: "--batch-execution-role-arn",
    schema: z.string().refine((v) => roleArnProblem(v) === undefined),
    allowed: "an IAM role ARN",
    description:
      "ECS task execution role that reads compute.batch.secrets (secretsmanager:GetSecretValue, ssm:GetParameters).",
    sensitive: true,
  },
  {
    key: "compute.batch.jobRoleArn",
    env: "MLOPS_BATCH_JOB_ROLE_ARN",
    flag: "--batch-job-role-arn",
    schema: z.string().refine((v) => roleArnProblem(v) === undefined),
    allowed: "an IAM role ARN",
    description:
      "Role the training container assumes (needs s3:GetObject/PutObject/ListBucket on the run store).",
    sensitive: true,
  },
];
