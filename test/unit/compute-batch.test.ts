/**
 * The AWS Batch training path against recorded call sequences. No AWS account can be reached
 * from here, so aws-sdk-client-mock answers the Batch and CloudWatch Logs calls; every test
 * checks the exact sequence of calls and their inputs. Time is a fake clock: sleeps advance it
 * and are recorded, so the backoff schedule is asserted and nothing waits.
 */
import {
  BatchClient,
  DescribeJobDefinitionsCommand,
  DescribeJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
  TerminateJobCommand,
  type JobDefinition,
  type JobDetail,
  type RegisterJobDefinitionCommandInput,
} from "@aws-sdk/client-batch";
import {
  CloudWatchLogsClient,
  GetLogEventsCommand,
  type GetLogEventsCommandInput,
  type GetLogEventsCommandOutput,
} from "@aws-sdk/client-cloudwatch-logs";
import { EventEmitter } from "node:events";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError, PipelineError } from "../../pipeline/errors.ts";
import {
  ensureJobDefinition,
  interruptSignal,
  runBatchTraining,
  trainJobDefinitionSpec,
  type BatchClock,
  type BatchTrainingOptions,
} from "../../pipeline/compute/batch.ts";
import {
  registerJobDefinitionInput,
  type JobDefinitionSpec,
} from "../../pipeline/compute/batch-job-definition.ts";
import { MAX_PAGES_PER_DRAIN } from "../../pipeline/compute/batch-logs.ts";
import { parseBatchSecrets, type BatchSettings } from "../../pipeline/config/batch-settings.ts";
import {
  resolveBatchSettings,
  validateBatchSettings,
} from "../../pipeline/compute/batch-settings.ts";
import type { Reporter } from "../../pipeline/reporter.ts";

// --- fakes -----------------------------------------------------------------------------------

const batchMock = mockClient(BatchClient);
const logsMock = mockClient(CloudWatchLogsClient);

beforeEach(() => {
  batchMock.reset();
  logsMock.reset();
});
afterEach(() => {
  batchMock.reset();
  logsMock.reset();
});

interface RecordingReporter extends Reporter {
  infos: string[];
  warns: string[];
}

function recorder(): RecordingReporter {
  const infos: string[] = [];
  const warns: string[] = [];
  return {
    infos,
    warns,
    info: (message) => void infos.push(message),
    warn: (message) => void warns.push(message),
    progress: () => ({ update() {}, stop() {} }),
  };
}

const START = Date.UTC(2026, 10, 23, 9, 0, 0);

function fakeClock(): BatchClock & { sleeps: number[] } {
  let now = START;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
  };
}

/** Every call a mocked client received, as [command name, input]. */
function callsOf(mock: typeof batchMock | typeof logsMock): [string, unknown][] {
  return mock.calls().map((call) => {
    const command = call.args[0] as { constructor: { name: string }; input: unknown };
    return [command.constructor.name, command.input];
  });
}

function awsError(name: string, message: string, status: number): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId: "req-1" },
  });
}

/**
 * CloudWatch Logs as GetLogEvents behaves: forward tokens index the stream, two events a page,
 * and the end of the stream answers the token it was given.
 */
class FakeLogStreams {
  readonly streams = new Map<string, string[]>();
  constructor(private readonly pageSize = 2) {}

  append(stream: string, ...lines: string[]): void {
    this.streams.set(stream, [...(this.streams.get(stream) ?? []), ...lines]);
  }

  answer(input: GetLogEventsCommandInput): GetLogEventsCommandOutput {
    const lines = this.streams.get(input.logStreamName ?? "");
    if (lines === undefined) {
      throw awsError("ResourceNotFoundException", "The specified log stream does not exist.", 400);
    }
    const from = input.nextToken === undefined ? 0 : Number(input.nextToken.split("/")[1]);
    const to = Math.min(lines.length, from + this.pageSize);
    return {
      $metadata: {},
      events: lines.slice(from, to).map((message, i) => ({
        timestamp: START + from + i,
        ingestionTime: START + from + i,
        message: `${message}\n`,
      })),
      nextForwardToken: from >= lines.length && input.nextToken ? input.nextToken : `f/${to}`,
      nextBackwardToken: `b/${from}`,
    };
  }
}

/** One DescribeJobs answer, and what the container logged before it. */
interface Step {
  job?: Partial<JobDetail>;
  error?: Error;
  log?: [stream: string, ...lines: string[]];
  /** Runs when the step is answered (e.g. to abort). */
  then?: () => void;
}

const JOB_ID = "5f0c1d2e-0000-4000-8000-000000000001";
const RUN_ID = "20261123-090000-abc123";
const JOB_NAME = `mlops-train-${RUN_ID}`;
const STORE = "s3://mlops-artifacts/team-a";
const CODE_PACKAGE = `${STORE}/code/${"c".repeat(64)}.tar.gz`;
const DEFINITION_ARN = "arn:aws:batch:eu-west-1:123456789012:job-definition/mlops-train:1";
const STREAM = "mlops-session-recs-train/default/aaaa1111";

function job(status: JobDetail["status"], extra: Partial<JobDetail> = {}): Partial<JobDetail> {
  return { jobId: JOB_ID, jobName: JOB_NAME, status, ...extra };
}

function scriptJob(steps: Step[], logStreams: FakeLogStreams): void {
  const remaining = [...steps];
  batchMock.on(DescribeJobsCommand).callsFake(() => {
    const step = remaining.shift();
    if (!step) throw new Error("DescribeJobs called more often than scripted");
    if (step.log) logStreams.append(...step.log);
    step.then?.();
    if (step.error) throw step.error;
    return { jobs: [{ createdAt: START, ...step.job }] };
  });
  logsMock
    .on(GetLogEventsCommand)
    .callsFake((input: GetLogEventsCommandInput) => logStreams.answer(input));
}

const SETTINGS: BatchSettings = resolveBatchSettings(
  {
    queue: "gpu-queue",
    image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-train:1.0",
    region: "eu-west-1",
    jobRoleArn: "arn:aws:iam::123456789012:role/mlops-train-job",
  },
  {},
);

function options(overrides: Partial<BatchTrainingOptions> = {}): BatchTrainingOptions & {
  reporter: RecordingReporter;
  clock: BatchClock & { sleeps: number[] };
} {
  return {
    batch: new BatchClient({ region: "eu-west-1" }),
    logs: new CloudWatchLogsClient({ region: "eu-west-1" }),
    settings: SETTINGS,
    runId: RUN_ID,
    storeUrl: STORE,
    trainArgs: ["--epochs", "3"],
    codePackageUrl: CODE_PACKAGE,
    reporter: recorder(),
    clock: fakeClock(),
    poll: { initialMs: 1_000, maxMs: 4_000, factor: 2, describeRetries: 3 },
    ...overrides,
  } as BatchTrainingOptions & {
    reporter: RecordingReporter;
    clock: BatchClock & { sleeps: number[] };
  };
}

/** The job definition is already registered and identical: one DescribeJobDefinitions call. */
function existingDefinition(): void {
  batchMock.on(DescribeJobDefinitionsCommand).resolves({
    jobDefinitions: [echoed(registerJobDefinitionInput(trainJobDefinitionSpec(SETTINGS)), 1)],
  });
}

/** A job definition the way DescribeJobDefinitions returns one that was registered with `input`. */
function echoed(input: RegisterJobDefinitionCommandInput, revision: number): JobDefinition {
  const container = input.containerProperties ?? {};
  return {
    jobDefinitionName: input.jobDefinitionName,
    jobDefinitionArn: `arn:aws:batch:eu-west-1:123456789012:job-definition/${input.jobDefinitionName}:${revision}`,
    revision,
    status: "ACTIVE",
    type: "container",
    parameters: {},
    retryStrategy: {
      attempts: input.retryStrategy?.attempts,
      // Batch echoes the actions in lower case.
      evaluateOnExit: input.retryStrategy?.evaluateOnExit?.map((rule) => ({
        ...rule,
        action: rule.action?.toLowerCase() as "EXIT",
      })),
    },
    timeout: input.timeout,
    propagateTags: input.propagateTags,
    platformCapabilities: ["EC2"],
    containerOrchestrationType: "ECS",
    tags: {},
    // Batch adds empty defaults and may order lists differently.
    containerProperties: {
      ...container,
      environment: [...(container.environment ?? [])].reverse(),
      resourceRequirements: [...(container.resourceRequirements ?? [])].reverse(),
      volumes: [],
      mountPoints: [],
      ulimits: [],
      secrets: [],
    },
  };
}

const SUBMIT_INPUT = {
  jobName: JOB_NAME,
  jobQueue: "gpu-queue",
  jobDefinition: "arn:aws:batch:eu-west-1:123456789012:job-definition/mlops-session-recs-train:1",
  containerOverrides: {
    command: [
      "train",
      "--compute",
      "local",
      "--backend",
      "node-gpu",
      "--run-id",
      RUN_ID,
      "--store",
      STORE,
      "--epochs",
      "3",
    ],
    environment: [
      { name: "MLOPS_RUN_ID", value: RUN_ID },
      { name: "MLOPS_STORE", value: STORE },
      { name: "MLOPS_CODE_PACKAGE", value: CODE_PACKAGE },
    ],
  },
  propagateTags: true,
  tags: { "mlops:run-id": RUN_ID, "mlops:stage": "train" },
};

async function failureOf(action: () => Promise<unknown>): Promise<PipelineError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error("expected a failure");
}

// --- the job definition ----------------------------------------------------------------------

describe("ensureJobDefinition", () => {
  const spec = trainJobDefinitionSpec(SETTINGS, { environment: { MLOPS_WAREHOUSE: "snowflake" } });

  it("registers the first revision when none is ACTIVE, with GPU, retry and timeout settings", async () => {
    batchMock.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batchMock.on(RegisterJobDefinitionCommand).resolves({
      jobDefinitionName: "mlops-session-recs-train",
      jobDefinitionArn: DEFINITION_ARN,
      revision: 1,
    });
    const result = await ensureJobDefinition(new BatchClient({}), spec);
    expect(result).toEqual({
      arn: DEFINITION_ARN,
      name: "mlops-session-recs-train",
      revision: 1,
      action: "created",
    });
    expect(callsOf(batchMock)).toEqual([
      [
        "DescribeJobDefinitionsCommand",
        { jobDefinitionName: "mlops-session-recs-train", status: "ACTIVE", nextToken: undefined },
      ],
      [
        "RegisterJobDefinitionCommand",
        {
          jobDefinitionName: "mlops-session-recs-train",
          type: "container",
          platformCapabilities: ["EC2"],
          containerProperties: {
            image: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-train:1.0",
            command: ["train", "--compute", "local", "--backend", "node-gpu"],
            environment: [
              { name: "AWS_REGION", value: "eu-west-1" },
              { name: "MLOPS_PROGRESS", value: "off" },
              { name: "MLOPS_WAREHOUSE", value: "snowflake" },
            ],
            resourceRequirements: [
              { type: "VCPU", value: "4" },
              { type: "MEMORY", value: "15000" },
              { type: "GPU", value: "1" },
            ],
            jobRoleArn: "arn:aws:iam::123456789012:role/mlops-train-job",
          },
          retryStrategy: {
            attempts: 3,
            evaluateOnExit: [
              { action: "EXIT", onReason: "CannotPullContainerError*" },
              { action: "RETRY", onStatusReason: "Host EC2*" },
              { action: "EXIT", onExitCode: "*" },
            ],
          },
          timeout: { attemptDurationSeconds: 7200 },
          propagateTags: true,
        },
      ],
    ]);
  });

  it("reuses the latest ACTIVE revision (over pages) when it matches as Batch echoes it", async () => {
    const wanted = registerJobDefinitionInput(spec);
    batchMock
      .on(DescribeJobDefinitionsCommand)
      .resolvesOnce({ jobDefinitions: [echoed(wanted, 7)], nextToken: "page-2" })
      .resolvesOnce({
        jobDefinitions: [
          echoed(
            { ...wanted, containerProperties: { ...wanted.containerProperties, image: "old:0.9" } },
            5,
          ),
        ],
      });
    const result = await ensureJobDefinition(new BatchClient({}), spec);
    expect(result).toEqual({
      arn: "arn:aws:batch:eu-west-1:123456789012:job-definition/mlops-session-recs-train:7",
      name: "mlops-session-recs-train",
      revision: 7,
      action: "reused",
    });
    expect(callsOf(batchMock)).toEqual([
      [
        "DescribeJobDefinitionsCommand",
        { jobDefinitionName: "mlops-session-recs-train", status: "ACTIVE", nextToken: undefined },
      ],
      [
        "DescribeJobDefinitionsCommand",
        { jobDefinitionName: "mlops-session-recs-train", status: "ACTIVE", nextToken: "page-2" },
      ],
    ]);
  });

  for (const [what, change] of [
    ["a new image", (d: JobDefinition) => void (d.containerProperties!.image = "mlops-train:0.9")],
    [
      "more memory",
      (d: JobDefinition) =>
        void (d.containerProperties!.resourceRequirements = [
          { type: "MEMORY", value: "30000" },
          { type: "VCPU", value: "4" },
          { type: "GPU", value: "1" },
        ]),
    ],
    [
      "another environment value",
      (d: JobDefinition) =>
        void (d.containerProperties!.environment = [
          { name: "MLOPS_WAREHOUSE", value: "duckdb:x" },
          { name: "AWS_REGION", value: "eu-west-1" },
          { name: "MLOPS_PROGRESS", value: "off" },
        ]),
    ],
    [
      "fewer attempts",
      (d: JobDefinition) => void (d.retryStrategy = { ...d.retryStrategy, attempts: 1 }),
    ],
    [
      "a hand-set privileged flag",
      (d: JobDefinition) => void (d.containerProperties!.privileged = true),
    ],
  ] as const) {
    it(`registers a new revision when the latest one has ${what}`, async () => {
      const latest = echoed(registerJobDefinitionInput(spec), 4);
      change(latest);
      batchMock.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [latest] });
      batchMock.on(RegisterJobDefinitionCommand).resolves({
        jobDefinitionName: "mlops-session-recs-train",
        jobDefinitionArn: DEFINITION_ARN.replace(":1", ":5"),
        revision: 5,
      });
      const result = await ensureJobDefinition(new BatchClient({}), spec);
      expect(result.action).toBe("revised");
      expect(result.revision).toBe(5);
      expect(callsOf(batchMock).map(([name]) => name)).toEqual([
        "DescribeJobDefinitionsCommand",
        "RegisterJobDefinitionCommand",
      ]);
      expect(batchMock.commandCalls(RegisterJobDefinitionCommand)[0]?.args[0].input).toEqual(
        registerJobDefinitionInput(spec),
      );
    });
  }

  it("without GPUs asks for none and lets the image pick its backend", () => {
    const input = registerJobDefinitionInput(trainJobDefinitionSpec({ ...SETTINGS, gpus: 0 }));
    expect(input.containerProperties?.resourceRequirements).toEqual([
      { type: "VCPU", value: "4" },
      { type: "MEMORY", value: "15000" },
    ]);
    expect(input.containerProperties?.command).toEqual(["train", "--compute", "local"]);
  });

  it("a non-default log group is set on the awslogs driver, and secrets go by ARN", () => {
    const input = registerJobDefinitionInput(
      trainJobDefinitionSpec({
        ...SETTINGS,
        logGroup: "/mlops/train",
        secrets:
          "SNOWFLAKE_PRIVATE_KEY=arn:aws:secretsmanager:eu-west-1:123456789012:secret:sf-key-AbCdEf, SNOWFLAKE_PASSWORD=arn:aws:ssm:eu-west-1:123456789012:parameter/mlops/sf",
        executionRoleArn: "arn:aws:iam::123456789012:role/mlops-batch-execution",
      }),
    );
    expect(input.containerProperties?.logConfiguration).toEqual({
      logDriver: "awslogs",
      options: { "awslogs-group": "/mlops/train" },
    });
    expect(input.containerProperties?.secrets).toEqual([
      {
        name: "SNOWFLAKE_PASSWORD",
        valueFrom: "arn:aws:ssm:eu-west-1:123456789012:parameter/mlops/sf",
      },
      {
        name: "SNOWFLAKE_PRIVATE_KEY",
        valueFrom: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sf-key-AbCdEf",
      },
    ]);
    expect(input.containerProperties?.executionRoleArn).toBe(
      "arn:aws:iam::123456789012:role/mlops-batch-execution",
    );
    // A value, not a reference, never reaches the job definition.
    expect(JSON.stringify(input)).not.toMatch(/BEGIN|PRIVATE KEY-/);
  });

  it("secrets: every entry must be NAME=ARN of a secret, and an execution role must read them", () => {
    const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:sf-AbCdEf";
    expect(parseBatchSecrets(` A=${arn} ,, B_2=${arn}`)).toEqual({ A: arn, B_2: arn });
    expect(() => parseBatchSecrets("SNOWFLAKE_PASSWORD=hunter2")).toThrow(
      /"SNOWFLAKE_PASSWORD=hunter2": expected NAME=ARN with a Secrets Manager secret or SSM parameter ARN/,
    );
    expect(() => parseBatchSecrets(`1X=${arn}`)).toThrow(/the variable name must be letters/);
    expect(() => parseBatchSecrets(`A=${arn},A=${arn}`)).toThrow(/"A" is given twice/);
    expect(() => validateBatchSettings({ ...SETTINGS, secrets: `A=${arn}` })).toThrow(
      /compute\.batch\.secrets names A, but no execution role is set/,
    );
  });

  it("turns an access error into a PipelineError naming the missing permission", async () => {
    batchMock
      .on(DescribeJobDefinitionsCommand)
      .rejects(
        awsError(
          "ClientException",
          "User is not authorized to perform: batch:DescribeJobDefinitions",
          403,
        ),
      );
    const error = await failureOf(() => ensureJobDefinition(new BatchClient({}), spec));
    expect(error.message).toContain("DescribeJobDefinitions failed");
    expect(error.hint).toContain("batch:DescribeJobDefinitions");
  });
});

// --- validation before any call ----------------------------------------------------------------

describe("invalid settings are refused before any AWS call", () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      "a job queue name with a space",
      () => runBatchTraining(options({ settings: { ...SETTINGS, queue: "gpu queue" } })),
      /invalid queue "gpu queue"/,
    ],
    [
      "a job definition name with a dot",
      () => runBatchTraining(options({ settings: { ...SETTINGS, jobDefinition: "train.v2" } })),
      /invalid jobDefinition "train.v2"/,
    ],
    [
      "an image with a space",
      () => runBatchTraining(options({ settings: { ...SETTINGS, image: "my image:1" } })),
      /invalid image "my image:1"/,
    ],
    [
      "a local run store",
      () => runBatchTraining(options({ storeUrl: "/tmp/store" })),
      /local folder, which a Batch job cannot write to/,
    ],
    [
      "a bucket name S3 refuses",
      () => runBatchTraining(options({ storeUrl: "s3://My_Bucket/x" })),
      /bucket "My_Bucket"/,
    ],
    [
      "a train flag the job sets itself",
      () => runBatchTraining(options({ trainArgs: ["--store", "s3://other/x"] })),
      /--store cannot be passed through/,
    ],
    [
      "a code package that is not named by its address",
      () => runBatchTraining(options({ codePackageUrl: `${STORE}/code/latest.tar.gz` })),
      /does not name a code package/,
    ],
    [
      "an environment variable each run sets",
      () => runBatchTraining(options({ environment: { MLOPS_CODE_PACKAGE: "x" } })),
      /must not set MLOPS_CODE_PACKAGE: each run sets it/,
    ],
    [
      "an environment variable Batch reserves",
      () => runBatchTraining(options({ environment: { AWS_BATCH_JOB_ID: "x" } })),
      /AWS_BATCH_JOB_ID/,
    ],
    [
      "a job definition name, directly",
      () =>
        ensureJobDefinition(new BatchClient({}), {
          ...trainJobDefinitionSpec(SETTINGS),
          name: "bad name",
        } as JobDefinitionSpec),
      /invalid job definition "bad name"/,
    ],
  ];
  for (const [what, action, message] of cases) {
    it(`refuses ${what}`, async () => {
      const error = await failureOf(action);
      expect(error).toBeInstanceOf(InputError);
      expect(error.exitCode).toBe(2);
      expect(error.message).toMatch(message);
      expect(callsOf(batchMock)).toEqual([]);
      expect(callsOf(logsMock)).toEqual([]);
    });
  }

  it("validates the settings themselves with the setting's key and variable", () => {
    expect(() => resolveBatchSettings({ image: "x:1" }, {})).toThrow(/no AWS Batch job queue/);
    try {
      resolveBatchSettings({ queue: "q", image: "x:1", retryAttempts: 11 }, {});
      throw new Error("expected a failure");
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).where.field).toBe("compute.batch.retryAttempts");
      expect((error as InputError).hint).toContain("MLOPS_BATCH_RETRY_ATTEMPTS");
    }
    expect(() =>
      resolveBatchSettings(
        { queue: "q", image: "x:1", runnableWarnSeconds: 900, runnableTimeoutSeconds: 600 },
        {},
      ),
    ).toThrow(/must be below runnableTimeoutSeconds/);
    expect(
      resolveBatchSettings({ queue: "q", image: "x:1" }, { AWS_REGION: "ap-south-1" }).region,
    ).toBe("ap-south-1");
    expect(
      resolveBatchSettings(
        { queue: "arn:aws:batch:eu-west-1:123456789012:job-queue/gpu-queue", image: "x:1" },
        {},
      ).queue,
    ).toContain("job-queue/gpu-queue");
  });

  it("refuses to submit once aborted, without any call", async () => {
    const controller = new AbortController();
    controller.abort("SIGINT");
    const error = await failureOf(() => runBatchTraining(options({ signal: controller.signal })));
    expect(error.message).toContain("cancelled before the job was submitted (SIGINT)");
    expect(callsOf(batchMock)).toEqual([]);
  });
});

// --- following the job -----------------------------------------------------------------------

describe("runBatchTraining", () => {
  it("submits, follows SUBMITTED → … → SUCCEEDED and prints every log line once", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID, jobName: JOB_NAME });
    const streams = new FakeLogStreams();
    const running = { container: { logStreamName: STREAM }, startedAt: START + 50_000 };
    scriptJob(
      [
        { job: job("SUBMITTED") },
        { job: job("PENDING") },
        { job: job("RUNNABLE") },
        { job: job("STARTING", { container: { logStreamName: STREAM } }) },
        {
          job: job("RUNNING", running),
          log: [STREAM, "backend node-gpu", "epoch 1/3", "loss 5.1"],
        },
        { job: job("RUNNING", running), log: [STREAM, "epoch 2/3", "loss 4.2"] },
        { job: job("RUNNING", running) },
        { job: job("RUNNING", running) },
        {
          job: job("SUCCEEDED", {
            ...running,
            stoppedAt: START + 170_000,
            container: { logStreamName: STREAM, exitCode: 0 },
            attempts: [{ container: { logStreamName: STREAM, exitCode: 0 } }],
          }),
          log: [STREAM, "wrote runs/x/train/model"],
        },
      ],
      streams,
    );
    const opts = options();
    const result = await runBatchTraining(opts);

    expect(callsOf(batchMock)).toEqual([
      [
        "DescribeJobDefinitionsCommand",
        { jobDefinitionName: "mlops-session-recs-train", status: "ACTIVE", nextToken: undefined },
      ],
      ["SubmitJobCommand", SUBMIT_INPUT],
      ...Array.from({ length: 9 }, () => ["DescribeJobsCommand", { jobs: [JOB_ID] }]),
    ]);
    const tokens = callsOf(logsMock).map(([name, input]) => {
      expect(name).toBe("GetLogEventsCommand");
      const { logGroupName, logStreamName, startFromHead, nextToken } =
        input as GetLogEventsCommandInput;
      expect([logGroupName, logStreamName, startFromHead]).toEqual([
        "/aws/batch/job",
        STREAM,
        true,
      ]);
      return nextToken ?? "(head)";
    });
    // Paged two events at a time; each poll reads on from where the last one stopped.
    expect(tokens).toEqual(["(head)", "f/2", "f/3", "f/3", "f/5", "f/5", "f/5", "f/5", "f/6"]);

    const printed = opts.reporter.infos.filter((line) => line.startsWith("  | "));
    expect(printed).toEqual([
      "  | backend node-gpu",
      "  | epoch 1/3",
      "  | loss 5.1",
      "  | epoch 2/3",
      "  | loss 4.2",
      "  | wrote runs/x/train/model",
    ]);
    const statuses = opts.reporter.infos.filter((line) =>
      line.startsWith(`AWS Batch job ${JOB_NAME}`),
    );
    expect(statuses).toEqual([
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): SUBMITTED`,
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): SUBMITTED → PENDING`,
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): PENDING → RUNNABLE`,
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): RUNNABLE → STARTING`,
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): STARTING → RUNNING (attempt 1)`,
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): RUNNING → SUCCEEDED`,
    ]);
    expect(opts.reporter.warns).toEqual([]);
    // The wait restarts at 1 s on each change and doubles (capped at 4 s) while nothing changes.
    expect(opts.clock.sleeps).toEqual([1_000, 1_000, 1_000, 1_000, 1_000, 2_000, 4_000, 4_000]);
    expect(result).toEqual({
      jobId: JOB_ID,
      jobName: JOB_NAME,
      jobDefinitionArn:
        "arn:aws:batch:eu-west-1:123456789012:job-definition/mlops-session-recs-train:1",
      status: "SUCCEEDED",
      attempts: 1,
      durations: {
        totalSeconds: 15,
        queuedSeconds: 50,
        runningSeconds: 120,
        byStatus: { SUBMITTED: 1, PENDING: 1, RUNNABLE: 1, STARTING: 1, RUNNING: 11 },
      },
      logLines: 6,
    });
  });

  it("reads a stream only once it exists, and every attempt's stream after a retry", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    const streams = new FakeLogStreams();
    const first = "mlops-session-recs-train/default/attempt1";
    const second = "mlops-session-recs-train/default/attempt2";
    const firstAttempt = {
      container: { logStreamName: first },
      statusReason: "Host EC2 (instance i-0abc) terminated.",
    };
    scriptJob(
      [
        // RUNNING, but the container has not written yet: the stream does not exist.
        { job: job("RUNNING", { container: { logStreamName: first } }) },
        { job: job("RUNNING", { container: { logStreamName: first } }), log: [first, "a1"] },
        // The Spot instance is reclaimed; the lines it wrote last are still read.
        {
          job: job("RUNNABLE", { container: { logStreamName: first }, attempts: [firstAttempt] }),
          log: [first, "a2"],
        },
        {
          job: job("RUNNING", { container: { logStreamName: second }, attempts: [firstAttempt] }),
          log: [second, "b1"],
        },
        {
          job: job("SUCCEEDED", {
            container: { logStreamName: second, exitCode: 0 },
            attempts: [firstAttempt, { container: { logStreamName: second, exitCode: 0 } }],
          }),
          log: [second, "b2"],
        },
      ],
      streams,
    );
    const opts = options();
    const result = await runBatchTraining(opts);
    expect(opts.reporter.infos.filter((line) => line.startsWith("  | "))).toEqual([
      "  | a1",
      "  | a2",
      "  | b1",
      "  | b2",
    ]);
    expect(opts.reporter.warns).toEqual([
      `AWS Batch job ${JOB_NAME} (${JOB_ID}): attempt 1 ended (Host EC2 (instance i-0abc) terminated.); Batch retries it`,
    ]);
    expect(result.attempts).toBe(2);
    expect(result.logLines).toBe(4);
    expect(
      callsOf(logsMock).map(([, input]) => {
        const { logStreamName, nextToken } = input as GetLogEventsCommandInput;
        return `${logStreamName?.split("/").pop()} ${nextToken ?? "(head)"}`;
      }),
    ).toEqual([
      "attempt1 (head)",
      "attempt1 (head)",
      "attempt1 f/1",
      "attempt1 f/1",
      "attempt1 f/2",
      "attempt2 (head)",
      "attempt2 f/1",
      "attempt2 f/1",
      "attempt2 f/2",
    ]);
  });

  it("a chatty job is read a bounded number of pages per poll, and on from there", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    const streams = new FakeLogStreams();
    const lines = Array.from({ length: 2 * MAX_PAGES_PER_DRAIN + 5 }, (_, i) => `line ${i}`);
    const running = { container: { logStreamName: STREAM } };
    scriptJob(
      [
        { job: job("RUNNING", running), log: [STREAM, ...lines] },
        { job: job("SUCCEEDED", { container: { logStreamName: STREAM, exitCode: 0 } }) },
      ],
      streams,
    );
    const opts = options();
    const result = await runBatchTraining(opts);
    expect(opts.reporter.infos.filter((line) => line.startsWith("  | "))).toEqual(
      lines.map((line) => `  | ${line}`),
    );
    expect(result.logLines).toBe(lines.length);
    const calls = logsMock.commandCalls(GetLogEventsCommand);
    // The first poll stops after its page budget; the second reads the rest and the end.
    expect(calls).toHaveLength(MAX_PAGES_PER_DRAIN + 4);
    expect(calls[MAX_PAGES_PER_DRAIN]?.args[0].input.nextToken).toBe(
      `f/${2 * MAX_PAGES_PER_DRAIN}`,
    );
  });

  it("FAILED: throws with Batch's reason, the exit code and the last log lines", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    const streams = new FakeLogStreams();
    const failed = {
      statusReason: "Essential container in task exited",
      container: { logStreamName: STREAM, exitCode: 1, reason: "" },
      attempts: [
        {
          container: { logStreamName: STREAM, exitCode: 1 },
          statusReason: "Essential container in task exited",
        },
      ],
    };
    scriptJob(
      [
        {
          job: job("RUNNING", { container: { logStreamName: STREAM } }),
          log: [STREAM, "l1", "l2", "l3"],
        },
        {
          job: job("FAILED", failed),
          log: [STREAM, "l4", "error: warehouse table recs_train_examples is missing"],
        },
      ],
      streams,
    );
    const opts = options({ tailLines: 3 });
    const error = await failureOf(() => runBatchTraining(opts));
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      `AWS Batch job ${JOB_NAME} (${JOB_ID}) FAILED after 1 attempt(s): Essential container in task exited; container exit code 1\n` +
        "last 3 log line(s):\n  | l3\n  | l4\n  | error: warehouse table recs_train_examples is missing",
    );
    expect(error.hint).toContain(
      `pipeline train --compute local --run-id ${RUN_ID} --store ${STORE}`,
    );
    expect(callsOf(batchMock).map(([name]) => name)).toEqual([
      "DescribeJobDefinitionsCommand",
      "SubmitJobCommand",
      "DescribeJobsCommand",
      "DescribeJobsCommand",
    ]);
  });

  it("FAILED with exit code 137: the hint is about memory", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    scriptJob(
      [
        {
          job: job("FAILED", {
            statusReason: "Essential container in task exited",
            container: {
              exitCode: 137,
              reason: "OutOfMemoryError: Container killed due to memory usage",
            },
          }),
        },
      ],
      new FakeLogStreams(),
    );
    const error = await failureOf(() => runBatchTraining(options()));
    expect(error.message).toContain(
      "container exit code 137 (OutOfMemoryError: Container killed due to memory usage)",
    );
    expect(error.message).toContain("(no log lines were read from the job)");
    expect(error.hint).toContain("MLOPS_BATCH_MEMORY_MIB");
  });

  it("warns once when RUNNABLE too long, then terminates the job after the RUNNABLE timeout", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    batchMock.on(TerminateJobCommand).resolves({});
    scriptJob(
      [{ job: job("SUBMITTED") }, ...Array.from({ length: 7 }, () => ({ job: job("RUNNABLE") }))],
      new FakeLogStreams(),
    );
    const opts = options({
      settings: { ...SETTINGS, runnableWarnSeconds: 60, runnableTimeoutSeconds: 180 },
      poll: { initialMs: 30_000, maxMs: 30_000, factor: 2, describeRetries: 3 },
    });
    const error = await failureOf(() => runBatchTraining(opts));
    expect(error.message).toBe(
      `AWS Batch job ${JOB_NAME} (${JOB_ID}) was terminated: it stayed RUNNABLE for 180 s, over compute.batch.runnableTimeoutSeconds (180 s) without an instance to run on`,
    );
    expect(error.hint).toContain("G and VT");
    expect(error.hint).toContain("job queue gpu-queue");
    expect(opts.reporter.warns).toHaveLength(2);
    expect(opts.reporter.warns[0]).toMatch(
      /has been RUNNABLE for 60 s: no instance has taken it yet/,
    );
    expect(opts.reporter.warns[1]).toMatch(
      /^terminated AWS Batch job .*: no capacity: RUNNABLE for 180 s/,
    );
    expect(callsOf(batchMock).slice(1)).toEqual([
      ["SubmitJobCommand", SUBMIT_INPUT],
      ...Array.from({ length: 8 }, () => ["DescribeJobsCommand", { jobs: [JOB_ID] }]),
      [
        "TerminateJobCommand",
        {
          jobId: JOB_ID,
          reason:
            "no capacity: RUNNABLE for 180 s, over compute.batch.runnableTimeoutSeconds (180 s)",
        },
      ],
    ]);
    expect(callsOf(logsMock)).toEqual([]);
  });

  it("a RUNNABLE job that then starts only gets the warning", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    scriptJob(
      [
        ...Array.from({ length: 4 }, () => ({ job: job("RUNNABLE") })),
        { job: job("SUCCEEDED", { container: { exitCode: 0 } }) },
      ],
      new FakeLogStreams(),
    );
    const opts = options({
      settings: { ...SETTINGS, runnableWarnSeconds: 2, runnableTimeoutSeconds: 600 },
    });
    const result = await runBatchTraining(opts);
    expect(result.status).toBe("SUCCEEDED");
    expect(opts.reporter.warns).toEqual([
      expect.stringMatching(/has been RUNNABLE for 3 s: no instance has taken it yet/),
    ]);
    expect(batchMock.commandCalls(TerminateJobCommand)).toEqual([]);
  });

  it("abort (SIGINT) terminates the job with a reason and fails", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    batchMock.on(TerminateJobCommand).resolves({});
    const controller = new AbortController();
    scriptJob(
      [
        { job: job("RUNNABLE") },
        { job: job("RUNNING", { container: { logStreamName: STREAM } }), log: [STREAM, "epoch 1"] },
        {
          job: job("RUNNING", { container: { logStreamName: STREAM } }),
          then: () => controller.abort("SIGINT"),
        },
      ],
      new FakeLogStreams(),
    );
    const opts = options({ signal: controller.signal });
    const error = await failureOf(() => runBatchTraining(opts));
    expect(error.message).toBe(
      `AWS Batch job ${JOB_NAME} (${JOB_ID}) was cancelled (SIGINT) and terminated`,
    );
    expect(callsOf(batchMock).slice(-4)).toEqual([
      ["DescribeJobsCommand", { jobs: [JOB_ID] }],
      ["DescribeJobsCommand", { jobs: [JOB_ID] }],
      ["DescribeJobsCommand", { jobs: [JOB_ID] }],
      ["TerminateJobCommand", { jobId: JOB_ID, reason: "cancelled: SIGINT" }],
    ]);
    expect(opts.reporter.warns).toEqual([
      `terminated AWS Batch job ${JOB_NAME} (${JOB_ID}): cancelled: SIGINT`,
    ]);
  });

  it("retries DescribeJobs on throttling with growing waits", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    const throttled = awsError("ClientException", "Too Many Requests.", 429);
    scriptJob(
      [
        { job: job("RUNNABLE") },
        { error: throttled },
        { error: awsError("ServerException", "Internal error", 500) },
        { job: job("SUCCEEDED", { container: { exitCode: 0 } }) },
      ],
      new FakeLogStreams(),
    );
    const opts = options();
    const result = await runBatchTraining(opts);
    expect(result.status).toBe("SUCCEEDED");
    expect(batchMock.commandCalls(DescribeJobsCommand)).toHaveLength(4);
    // 1 s poll wait, then 1 s and 2 s backoff after the two failures.
    expect(opts.clock.sleeps).toEqual([1_000, 1_000, 2_000]);
    expect(opts.reporter.infos).toContain(
      `DescribeJobs for ${JOB_ID}: ClientException (HTTP 429): Too Many Requests. [request id req-1]; trying again in 1 s`,
    );
  });

  it("gives up on DescribeJobs after the tolerated failures, saying the job may still run", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    const throttled = awsError("ClientException", "Too Many Requests.", 429);
    scriptJob(
      Array.from({ length: 4 }, () => ({ error: throttled })),
      new FakeLogStreams(),
    );
    const error = await failureOf(() => runBatchTraining(options()));
    expect(error.message).toContain("DescribeJobs kept failing");
    expect(error.hint).toContain(`aws batch terminate-job --job-id ${JOB_ID}`);
    expect(batchMock.commandCalls(DescribeJobsCommand)).toHaveLength(4);
  });

  it("does not retry DescribeJobs when access is denied", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    scriptJob(
      [
        {
          error: awsError(
            "ClientException",
            "User is not authorized to perform: batch:DescribeJobs",
            403,
          ),
        },
      ],
      new FakeLogStreams(),
    );
    const error = await failureOf(() => runBatchTraining(options()));
    expect(error.hint).toContain("Allow batch:DescribeJobs");
    expect(batchMock.commandCalls(DescribeJobsCommand)).toHaveLength(1);
  });

  it("keeps following the job when its logs cannot be read, with one warning", async () => {
    existingDefinition();
    batchMock.on(SubmitJobCommand).resolves({ jobId: JOB_ID });
    scriptJob(
      [
        { job: job("RUNNING", { container: { logStreamName: STREAM } }) },
        { job: job("SUCCEEDED", { container: { logStreamName: STREAM, exitCode: 0 } }) },
      ],
      new FakeLogStreams(),
    );
    logsMock
      .on(GetLogEventsCommand)
      .rejects(
        awsError("AccessDeniedException", "not authorized to perform: logs:GetLogEvents", 400),
      );
    const opts = options();
    const result = await runBatchTraining(opts);
    expect(result.logLines).toBe(0);
    expect(opts.reporter.warns).toHaveLength(1);
    expect(opts.reporter.warns[0]).toContain("allow logs:GetLogEvents on /aws/batch/job");
    expect(logsMock.commandCalls(GetLogEventsCommand)).toHaveLength(1);
  });
});

describe("interruptSignal", () => {
  it("aborts with the first signal's name and stops listening", () => {
    const source = new EventEmitter();
    const { signal, dispose } = interruptSignal(source);
    expect(source.listenerCount("SIGINT")).toBe(1);
    expect(source.listenerCount("SIGTERM")).toBe(1);
    source.emit("SIGTERM");
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe("SIGTERM");
    expect(source.listenerCount("SIGINT")).toBe(0);
    expect(source.listenerCount("SIGTERM")).toBe(0);
    dispose();
  });

  it("dispose removes its listeners without aborting", () => {
    const source = new EventEmitter();
    const { signal, dispose } = interruptSignal(source);
    dispose();
    source.emit("SIGINT");
    expect(signal.aborted).toBe(false);
    expect(source.listenerCount("SIGINT")).toBe(0);
  });
});
