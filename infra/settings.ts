/**
 * The CDK app's settings, read from context (`-c key=value` on the command line, or the
 * `context` block of infra/cdk.json) and validated before any construct is made: a typo fails at
 * synth with the key's name and the form it wants, not as a CloudFormation error mid-deploy.
 */

/** What the stack is built from; every field has been validated. */
export interface InfraSettings {
  /** `owner/name` of the GitHub repository whose workflows may assume the roles. */
  githubRepository: string;
  /** Prefix of resource names (ECR repositories, job queue, secrets, stack name). */
  prefix: string;
  /** Folder of the run store inside the bucket ("" = the bucket's root, `-c storePrefix=/`). */
  storePrefix: string;
  /** ARN of an account's existing GitHub OIDC provider (an account can hold only one). */
  existingOidcProviderArn?: string;
  /** Name of an existing bucket to use as the run store instead of a new one. */
  existingBucketName?: string;
  /** Upper bound of the GPU compute environment (vCPUs across all running instances). */
  maxGpuVcpus: number;
  /** GPU instance families (`g4dn`) or types (`g4dn.xlarge`) Batch may launch. */
  gpuInstanceTypes: string[];
  /** SageMaker endpoint the promote stage deploys (MLOPS_SAGEMAKER_ENDPOINT). */
  endpointName: string;
  /** Job definition the train stage registers (MLOPS_BATCH_JOB_DEFINITION). */
  jobDefinitionName: string;
  /** ECR images each repository keeps; older ones expire. */
  keepImages: number;
}

/** The pipeline's own defaults (pipeline/config/settings.ts, pipeline/config/batch-settings.ts). */
export const PIPELINE_DEFAULTS = {
  endpointName: "mlops-session-recs",
  jobDefinitionName: "mlops-session-recs-train",
  /** Batch's default log group for the awslogs driver (DEFAULT_LOG_GROUP in batch-settings.ts). */
  batchLogGroup: "/aws/batch/job",
} as const;

export const DEFAULTS = {
  prefix: "mlops",
  storePrefix: "store",
  maxGpuVcpus: 16,
  gpuInstanceTypes: ["g4dn", "g5"],
  keepImages: 30,
} as const;

/** Every context key the app reads, for error messages and the README. */
export const CONTEXT_KEYS = [
  "githubRepository",
  "prefix",
  "storePrefix",
  "existingOidcProviderArn",
  "existingBucketName",
  "maxGpuVcpus",
  "gpuInstanceTypes",
  "endpointName",
  "jobDefinitionName",
  "keepImages",
] as const;

export type ContextKey = (typeof CONTEXT_KEYS)[number];

/** A context value that is missing or malformed; the message names the key and the flag. */
export class InfraSettingsError extends Error {
  constructor(key: ContextKey, message: string) {
    super(`context "${key}" ${message} (pass -c ${key}=... to cdk, or set it in infra/cdk.json)`);
    this.name = "InfraSettingsError";
  }
}

// GitHub: owners are letters, digits and single hyphens; repository names add '.' and '_'.
const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/[A-Za-z0-9._-]{1,100}$/;
// Used in ECR repository names (lowercase), queue names and secret paths: keep it to the
// intersection of their rules.
const PREFIX = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
const STORE_PREFIX = /^(?:[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*)?$/;
const OIDC_PROVIDER_ARN =
  /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// GPU families Batch can launch with the ECS GPU AMI: g* and p* (g4dn, g5, g6, p3, p4d, ...).
const GPU_INSTANCE = /^[gp]\d+[a-z]*(?:\.\d*(?:nano|micro|small|medium|large|xlarge|metal))?$/;
/** SageMaker's rule for endpoint names (SAGEMAKER_NAME in pipeline/promote/sagemaker-settings.ts). */
const SAGEMAKER_NAME = /^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/;
const JOB_DEFINITION_NAME = /^[A-Za-z0-9_-]{1,128}$/;

/** Reads a context value as a string ("" and undefined are unset). */
type Lookup = (key: ContextKey) => unknown;

function text(lookup: Lookup, key: ContextKey): string | undefined {
  const value = lookup(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") {
    throw new InfraSettingsError(key, `must be a string, got ${JSON.stringify(value)}`);
  }
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function integer(lookup: Lookup, key: ContextKey, fallback: number, min: number, max: number) {
  const value = text(lookup, key);
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < min || n > max) {
    throw new InfraSettingsError(key, `must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function matching(
  lookup: Lookup,
  key: ContextKey,
  pattern: RegExp,
  form: string,
): string | undefined {
  const value = text(lookup, key);
  if (value !== undefined && !pattern.test(value)) {
    throw new InfraSettingsError(key, `must be ${form}, got "${value}"`);
  }
  return value;
}

/**
 * Validates the context. `lookup` is `(key) => app.node.tryGetContext(key)` in the app; tests
 * pass a plain object's getter.
 */
export function readInfraSettings(lookup: Lookup): InfraSettings {
  const githubRepository = text(lookup, "githubRepository");
  if (githubRepository === undefined) {
    throw new InfraSettingsError(
      "githubRepository",
      "is required: the GitHub repository (owner/name) whose workflows assume the roles",
    );
  }
  if (!GITHUB_REPOSITORY.test(githubRepository)) {
    throw new InfraSettingsError(
      "githubRepository",
      `must be owner/name (e.g. acme/shop-recs), got "${githubRepository}"`,
    );
  }

  const rawTypes = lookup("gpuInstanceTypes");
  let gpuInstanceTypes: string[] = [...DEFAULTS.gpuInstanceTypes];
  if (Array.isArray(rawTypes)) {
    gpuInstanceTypes = rawTypes.map((t) => String(t).trim());
  } else {
    const joined = text(lookup, "gpuInstanceTypes");
    if (joined !== undefined) gpuInstanceTypes = joined.split(",").map((t) => t.trim());
  }
  gpuInstanceTypes = gpuInstanceTypes.filter((t) => t !== "");
  if (gpuInstanceTypes.length === 0) {
    throw new InfraSettingsError("gpuInstanceTypes", "must name at least one GPU instance family");
  }
  for (const type of gpuInstanceTypes) {
    if (!GPU_INSTANCE.test(type)) {
      throw new InfraSettingsError(
        "gpuInstanceTypes",
        `must be comma-separated GPU instance families or types (g4dn,g5 or g4dn.xlarge), got "${type}"`,
      );
    }
  }

  const settings: InfraSettings = {
    githubRepository,
    prefix:
      matching(
        lookup,
        "prefix",
        PREFIX,
        "2-32 lowercase letters, digits or '-', starting with a letter",
      ) ?? DEFAULTS.prefix,
    storePrefix: (() => {
      const raw = text(lookup, "storePrefix");
      if (raw === undefined) return DEFAULTS.storePrefix;
      const value = raw.replace(/^\/+|\/+$/g, "");
      if (value === "." || !STORE_PREFIX.test(value) || value.split("/").includes("..")) {
        throw new InfraSettingsError(
          "storePrefix",
          `must be a '/'-separated key prefix of letters, digits, '.', '_' or '-' ("" for the bucket's root), got "${raw}"`,
        );
      }
      return value;
    })(),
    maxGpuVcpus: integer(lookup, "maxGpuVcpus", DEFAULTS.maxGpuVcpus, 4, 4096),
    gpuInstanceTypes,
    endpointName:
      matching(
        lookup,
        "endpointName",
        SAGEMAKER_NAME,
        "a SageMaker endpoint name (1-63 letters, digits and '-')",
      ) ?? PIPELINE_DEFAULTS.endpointName,
    jobDefinitionName:
      matching(
        lookup,
        "jobDefinitionName",
        JOB_DEFINITION_NAME,
        "a Batch job definition name (1-128 letters, digits, '-' or '_')",
      ) ?? PIPELINE_DEFAULTS.jobDefinitionName,
    keepImages: integer(lookup, "keepImages", DEFAULTS.keepImages, 1, 1000),
  };
  const oidc = matching(
    lookup,
    "existingOidcProviderArn",
    OIDC_PROVIDER_ARN,
    "the ARN of the account's GitHub OIDC provider (arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com)",
  );
  if (oidc !== undefined) settings.existingOidcProviderArn = oidc;
  const bucket = matching(
    lookup,
    "existingBucketName",
    BUCKET_NAME,
    "an S3 bucket name (3-63 lowercase letters, digits, '.' or '-')",
  );
  if (bucket !== undefined) settings.existingBucketName = bucket;
  return settings;
}
