/**
 * The training job definition: registered once, reused while nothing relevant changes. Every
 * RegisterJobDefinition call adds a revision, so registering per run would pile up hundreds of
 * identical revisions; instead the latest ACTIVE revision is compared with what would be
 * registered, property by property, and a new revision is made only when they differ.
 */
import {
  DescribeJobDefinitionsCommand,
  RegisterJobDefinitionCommand,
  type BatchClient,
  type ContainerProperties,
  type EvaluateOnExit,
  type JobDefinition,
  type RegisterJobDefinitionCommandInput,
  type ResourceRequirement,
  type RetryStrategy,
} from "@aws-sdk/client-batch";
import { InputError, PipelineError } from "../errors.ts";
import { describeAwsError, isAccessDenied } from "./aws-errors.ts";
import {
  DEFAULT_LOG_GROUP,
  environmentNameProblem,
  imageProblem,
  jobDefinitionNameProblem,
  parseBatchSecrets,
  roleArnProblem,
  type BatchSettings,
} from "../config/batch-settings.ts";
import { jobDefinitionCommand } from "./train-command.ts";

export interface JobDefinitionSpec {
  name: string;
  image: string;
  vcpus: number;
  memoryMiB: number;
  /** 0: no GPU requirement (Batch refuses a GPU requirement of 0). */
  gpus: number;
  /** The container's command (the CLI's arguments; the image's ENTRYPOINT runs the CLI). */
  command: string[];
  /** Non-secret settings the container reads (MLOPS_*, AWS_REGION). */
  environment: Record<string, string>;
  /** Secrets injected by ECS at start: variable name → Secrets Manager or SSM parameter ARN. */
  secrets?: Record<string, string>;
  retryAttempts: number;
  timeoutSeconds: number;
  jobRoleArn?: string;
  /** The ECS task execution role, which reads `secrets` when the container starts. */
  executionRoleArn?: string;
  /** A log group other than Batch's default /aws/batch/job (it must exist). */
  logGroup?: string;
}

export interface EnsuredJobDefinition {
  arn: string;
  name: string;
  revision: number;
  /** created: first revision; reused: the latest ACTIVE one matched; revised: a new revision. */
  action: "created" | "reused" | "revised";
}

/**
 * Retry only when the instance went away (Spot reclaim, host failure: status reason
 * "Host EC2 (instance i-…) terminated."). A container that exited with any code failed on its
 * own (bad data, out of memory) and would fail again; an image that cannot be pulled too.
 * Failures that match nothing (agent errors, "Task failed to start") are retried by Batch.
 */
export const RETRY_ON_EXIT: EvaluateOnExit[] = [
  { action: "EXIT", onReason: "CannotPullContainerError*" },
  { action: "RETRY", onStatusReason: "Host EC2*" },
  { action: "EXIT", onExitCode: "*" },
];

/** The job definition of the training stage for these settings. */
export function trainJobDefinitionSpec(
  settings: BatchSettings,
  extra: { environment?: Record<string, string> } = {},
): JobDefinitionSpec {
  const spec: JobDefinitionSpec = {
    name: settings.jobDefinition,
    image: settings.image,
    vcpus: settings.vcpus,
    memoryMiB: settings.memoryMiB,
    gpus: settings.gpus,
    command: jobDefinitionCommand(settings.gpus > 0 ? "node-gpu" : undefined),
    environment: {
      // The S3 store's client reads AWS_REGION; without it, it would assume us-east-1.
      AWS_REGION: settings.region,
      // Logs go to CloudWatch: no progress bars (they would be one line per redraw).
      MLOPS_PROGRESS: "off",
      ...extra.environment,
    },
    retryAttempts: settings.retryAttempts,
    timeoutSeconds: settings.timeoutSeconds,
  };
  if (settings.secrets !== undefined) {
    const secrets = parseBatchSecrets(settings.secrets);
    if (Object.keys(secrets).length > 0) spec.secrets = secrets;
  }
  if (settings.jobRoleArn !== undefined) spec.jobRoleArn = settings.jobRoleArn;
  if (settings.executionRoleArn !== undefined) spec.executionRoleArn = settings.executionRoleArn;
  if (settings.logGroup !== DEFAULT_LOG_GROUP) spec.logGroup = settings.logGroup;
  return spec;
}

/** Checks the spec against Batch's rules; throws an InputError before any call. */
export function validateJobDefinitionSpec(spec: JobDefinitionSpec): void {
  const problems: [string, string | undefined][] = [
    ["jobDefinition", jobDefinitionNameProblem(spec.name)],
    ["image", imageProblem(spec.image)],
    ["jobRoleArn", spec.jobRoleArn === undefined ? undefined : roleArnProblem(spec.jobRoleArn)],
    [
      "executionRoleArn",
      spec.executionRoleArn === undefined ? undefined : roleArnProblem(spec.executionRoleArn),
    ],
  ];
  for (const name of [...Object.keys(spec.environment), ...Object.keys(spec.secrets ?? {})]) {
    problems.push([`environment variable ${name}`, environmentNameProblem(name)]);
  }
  for (const [name, arn] of Object.entries(spec.secrets ?? {})) {
    if (!/^arn:aws[a-z-]*:(secretsmanager|ssm):/.test(arn)) {
      problems.push([`secret ${name}`, "must be a Secrets Manager secret or SSM parameter ARN"]);
    }
  }
  for (const [field, value, min] of [
    ["vcpus", spec.vcpus, 1],
    ["memoryMiB", spec.memoryMiB, 4],
    ["gpus", spec.gpus, 0],
    ["retryAttempts", spec.retryAttempts, 1],
    ["timeoutSeconds", spec.timeoutSeconds, 60],
  ] as const) {
    if (!Number.isInteger(value) || value < min) {
      problems.push([field, `must be an integer of at least ${min}, got ${value}`]);
    }
  }
  if (spec.retryAttempts > 10) problems.push(["retryAttempts", "must be at most 10"]);
  if (spec.command.length === 0) problems.push(["command", "must not be empty"]);
  const found = problems.find(([, problem]) => problem !== undefined);
  if (found) {
    throw new InputError(
      `invalid job definition "${spec.name}": ${found[0]} ${found[1]}`,
      { field: `compute.batch.${found[0].split(" ")[0]}` },
      "Fix the compute.batch settings (MLOPS_BATCH_*); nothing was sent to AWS Batch.",
    );
  }
}

/** What RegisterJobDefinition receives for the spec. */
export function registerJobDefinitionInput(
  spec: JobDefinitionSpec,
): RegisterJobDefinitionCommandInput {
  const resourceRequirements: ResourceRequirement[] = [
    { type: "VCPU", value: String(spec.vcpus) },
    { type: "MEMORY", value: String(spec.memoryMiB) },
  ];
  if (spec.gpus > 0) resourceRequirements.push({ type: "GPU", value: String(spec.gpus) });
  const containerProperties: ContainerProperties = {
    image: spec.image,
    command: [...spec.command],
    environment: Object.entries(spec.environment)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => ({ name, value })),
    resourceRequirements,
  };
  if (spec.secrets !== undefined && Object.keys(spec.secrets).length > 0) {
    containerProperties.secrets = Object.entries(spec.secrets)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, valueFrom]) => ({ name, valueFrom }));
  }
  if (spec.jobRoleArn !== undefined) containerProperties.jobRoleArn = spec.jobRoleArn;
  if (spec.executionRoleArn !== undefined) {
    containerProperties.executionRoleArn = spec.executionRoleArn;
  }
  if (spec.logGroup !== undefined) {
    containerProperties.logConfiguration = {
      logDriver: "awslogs",
      options: { "awslogs-group": spec.logGroup },
    };
  }
  return {
    jobDefinitionName: spec.name,
    type: "container",
    platformCapabilities: ["EC2"],
    containerProperties,
    retryStrategy: { attempts: spec.retryAttempts, evaluateOnExit: RETRY_ON_EXIT },
    timeout: { attemptDurationSeconds: spec.timeoutSeconds },
    // The ECS task inherits the job's tags (run id), for cost allocation.
    propagateTags: true,
  };
}

/**
 * Registers the job definition, or reuses its latest ACTIVE revision when that one has the same
 * image, command, resources, environment, secrets, role, logging, retry strategy and timeout.
 */
export async function ensureJobDefinition(
  client: BatchClient,
  spec: JobDefinitionSpec,
): Promise<EnsuredJobDefinition> {
  validateJobDefinitionSpec(spec);
  const wanted = registerJobDefinitionInput(spec);
  const latest = await latestActiveRevision(client, spec.name);
  if (latest && sameDefinition(latest, wanted)) {
    return {
      arn: latest.jobDefinitionArn ?? `${spec.name}:${latest.revision}`,
      name: spec.name,
      revision: latest.revision ?? 0,
      action: "reused",
    };
  }
  let output;
  try {
    output = await client.send(new RegisterJobDefinitionCommand(wanted));
  } catch (error) {
    throw new PipelineError(
      `AWS Batch RegisterJobDefinition failed for "${spec.name}": ${describeAwsError(error)}`,
      1,
      isAccessDenied(error)
        ? "Allow batch:RegisterJobDefinition (and iam:PassRole on the job role) for the identity that runs the pipeline."
        : "Check the compute.batch settings (image, vcpus, memoryMiB, gpus) against the limits of AWS Batch.",
    );
  }
  if (output.jobDefinitionArn === undefined || output.revision === undefined) {
    throw new PipelineError(
      `AWS Batch RegisterJobDefinition for "${spec.name}" answered without an ARN or revision`,
    );
  }
  return {
    arn: output.jobDefinitionArn,
    name: spec.name,
    revision: output.revision,
    action: latest ? "revised" : "created",
  };
}

async function latestActiveRevision(
  client: BatchClient,
  name: string,
): Promise<JobDefinition | undefined> {
  let latest: JobDefinition | undefined;
  let nextToken: string | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new DescribeJobDefinitionsCommand({ jobDefinitionName: name, status: "ACTIVE", nextToken }),
      );
    } catch (error) {
      throw new PipelineError(
        `AWS Batch DescribeJobDefinitions failed for "${name}": ${describeAwsError(error)}`,
        1,
        isAccessDenied(error)
          ? "Allow batch:DescribeJobDefinitions for the identity that runs the pipeline."
          : "Check the AWS credentials and compute.batch.region (MLOPS_BATCH_REGION).",
      );
    }
    for (const definition of page.jobDefinitions ?? []) {
      if ((definition.revision ?? 0) > (latest?.revision ?? 0)) latest = definition;
    }
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return latest;
}

/** Compares the properties this module sets, plus any extra one someone set by hand. */
function sameDefinition(
  existing: JobDefinition,
  wanted: RegisterJobDefinitionCommandInput,
): boolean {
  return (
    JSON.stringify(canonical(existing.type, existing)) ===
    JSON.stringify(canonical(wanted.type, wanted))
  );
}

type DefinitionShape = Pick<
  JobDefinition,
  "containerProperties" | "retryStrategy" | "timeout" | "platformCapabilities" | "propagateTags"
> & { parameters?: Record<string, string> };

/** Container properties this module sets; others must be unset (or empty) to match. */
const KNOWN_CONTAINER_FIELDS = new Set([
  "image",
  "command",
  "environment",
  "resourceRequirements",
  "secrets",
  "jobRoleArn",
  "executionRoleArn",
  "logConfiguration",
]);

function canonical(type: string | undefined, definition: DefinitionShape): unknown {
  const container = definition.containerProperties ?? {};
  const extras = Object.entries(container)
    .filter(([key, value]) => !KNOWN_CONTAINER_FIELDS.has(key) && !isEmpty(value))
    .sort(([a], [b]) => a.localeCompare(b));
  return {
    type,
    platform: [...(definition.platformCapabilities ?? ["EC2"])].sort(),
    image: container.image,
    command: container.command ?? [],
    environment: (container.environment ?? [])
      .map((pair) => [pair.name, pair.value])
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
    resources: (container.resourceRequirements ?? [])
      .map((r) => [r.type, r.value])
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
    secrets: (container.secrets ?? [])
      .map((s) => [s.name, s.valueFrom])
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
    jobRoleArn: container.jobRoleArn ?? null,
    executionRoleArn: container.executionRoleArn ?? null,
    // Batch fills in the default awslogs driver with no options when none was given.
    log: logGroupOf(container.logConfiguration),
    extras,
    parameters: isEmpty(definition.parameters) ? null : definition.parameters,
    retry: canonicalRetry(definition.retryStrategy),
    timeout: definition.timeout?.attemptDurationSeconds ?? null,
    propagateTags: definition.propagateTags ?? false,
  };
}

function logGroupOf(log: ContainerProperties["logConfiguration"]): string | null {
  if (log === undefined) return null;
  if (log.logDriver !== "awslogs") return `${log.logDriver}:${JSON.stringify(log.options ?? {})}`;
  const group = log.options?.["awslogs-group"];
  const others = Object.keys(log.options ?? {}).filter((key) => key !== "awslogs-group");
  if (others.length > 0) return `awslogs:${JSON.stringify(log.options)}`;
  return group === undefined || group === DEFAULT_LOG_GROUP ? null : group;
}

function canonicalRetry(retry: RetryStrategy | undefined): unknown {
  return {
    attempts: retry?.attempts ?? 1,
    // Batch treats actions case-insensitively and may echo them in either case.
    onExit: (retry?.evaluateOnExit ?? []).map((rule) => [
      rule.action?.toUpperCase(),
      rule.onStatusReason ?? null,
      rule.onReason ?? null,
      rule.onExitCode ?? null,
    ]),
  };
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === "object") return Object.keys(value).length === 0;
  return false;
}
