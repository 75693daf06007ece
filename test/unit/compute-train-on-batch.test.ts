/**
 * The train stage's `--compute batch` path around the Batch client: what it refuses before any
 * AWS call, the flags the job's `pipeline train` gets, and the hand-back of the record the job
 * wrote into the store (recorded calls; the S3 hand-off itself is batch-s3-handoff.test.ts).
 */
import {
  BatchClient,
  DescribeJobDefinitionsCommand,
  DescribeJobsCommand,
  RegisterJobDefinitionCommand,
  SubmitJobCommand,
} from "@aws-sdk/client-batch";
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { join } from "node:path";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { trainOnBatch } from "../../pipeline/compute/train-on-batch.ts";
import { buildCodePackage } from "../../pipeline/compute/code-package.ts";
import { InputError } from "../../pipeline/errors.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { writeStageRecord } from "../../pipeline/store/runs.ts";
import { tempDir } from "../helpers/rows.ts";

const batchMock = mockClient(BatchClient);
const logsMock = mockClient(CloudWatchLogsClient);
afterEach(() => {
  batchMock.reset();
  logsMock.reset();
  vi.unstubAllEnvs();
});

const env = {
  MLOPS_STORE: "s3://runs-bucket/team",
  MLOPS_WAREHOUSE: "snowflake",
  MLOPS_COMPUTE: "batch",
  MLOPS_BATCH_QUEUE: "gpu-queue",
  MLOPS_BATCH_IMAGE: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/train:v1",
  MLOPS_BATCH_REGION: "eu-west-1",
  MLOPS_EPOCHS: "7",
};
const configWith = (overrides: Record<string, string> = {}) =>
  loadConfig({ env: { ...env, ...overrides }, cwd: tempDir("train-on-batch-cfg-") }).config;

describe("trainOnBatch", () => {
  it("refuses a local store or a DuckDB warehouse before any AWS call", async () => {
    const store = new LocalStore(tempDir("train-on-batch-"));
    const local = trainOnBatch({
      config: configWith({ MLOPS_STORE: ".mlops" }),
      runId: "r1",
      store,
      reporter: silentReporter(),
    });
    await expect(local).rejects.toThrow(InputError);
    await expect(local).rejects.toThrow(/needs an S3 run store/);
    const duck = trainOnBatch({
      config: configWith({ MLOPS_WAREHOUSE: "duckdb:.mlops/w.duckdb" }),
      runId: "r1",
      store,
      reporter: silentReporter(),
    });
    await expect(duck).rejects.toMatchObject({
      message: expect.stringContaining("needs a warehouse the job can reach") as string,
      hint: expect.stringContaining("use --warehouse snowflake with --compute batch") as string,
    });
    expect(batchMock.calls()).toHaveLength(0);
  });

  it("runs the job with the run's training flags and returns the record the job wrote", async () => {
    const store = new LocalStore(join(tempDir("train-on-batch-"), "store"));
    const runId = "20261123-120000-abcdef";
    batchMock.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batchMock.on(RegisterJobDefinitionCommand).resolves({
      jobDefinitionArn:
        "arn:aws:batch:eu-west-1:123456789012:job-definition/mlops-session-recs-train:1",
      jobDefinitionName: "mlops-session-recs-train",
      revision: 1,
    });
    batchMock.on(SubmitJobCommand).callsFake(async () => {
      // What the container does: train, then record the stage in the (shared) store.
      await writeStageRecord(store, {
        runId,
        stage: "train",
        status: "succeeded",
        startedAt: "2026-11-23T12:00:00.000Z",
        finishedAt: "2026-11-23T12:10:00.000Z",
        seconds: 600,
        inputs: [],
        outputs: [],
        counts: {},
        versions: {},
        result: { compute: "local", bestValidationHr20: 0.3 },
      });
      return { jobId: "job-1", jobName: `train-${runId}` };
    });
    batchMock.on(DescribeJobsCommand).resolves({
      jobs: [
        {
          jobId: "job-1",
          jobName: `train-${runId}`,
          jobQueue: "gpu-queue",
          jobDefinition: "mlops-session-recs-train:1",
          status: "SUCCEEDED",
          startedAt: Date.parse("2026-11-23T12:01:00Z"),
        },
      ],
    });
    logsMock.on(GetLogEventsCommand).resolves({ events: [] });

    const result = await trainOnBatch({
      config: configWith(),
      runId,
      store,
      reporter: silentReporter(),
    });
    expect(result).toMatchObject({ compute: "batch", bestValidationHr20: 0.3 });
    expect(result.batchJob.jobId).toBe("job-1");
    const submitted = batchMock.commandCalls(SubmitJobCommand)[0]?.args[0].input;
    const command = submitted?.containerOverrides?.command ?? [];
    expect(command.slice(0, 3)).toEqual(["train", "--compute", "local"]);
    expect(command).toContain(runId);
    expect(command).toContain("s3://runs-bucket/team");
    expect(command.join(" ")).toContain("--epochs 7");
    expect(command).not.toContain("--warehouse");

    // The job runs this checkout's code: its package is in the store, named in the job.
    const code = buildCodePackage(join(import.meta.dirname, "../.."));
    expect(result.codePackage).toMatchObject({ sha256: code.sha256, files: code.files.length });
    expect(Buffer.from((await store.get(`code/${code.sha256}.tar.gz`))!).equals(code.bytes)).toBe(
      true,
    );
    expect(submitted?.containerOverrides?.environment).toContainEqual({
      name: "MLOPS_CODE_PACKAGE",
      value: `${store.location}/code/${code.sha256}.tar.gz`,
    });
  });

  it("gives the job its AWS identity for Snowflake when this side logs in with GitHub's OIDC token", async () => {
    vi.stubEnv("SNOWFLAKE_ACCOUNT", "acme-shop");
    vi.stubEnv("SNOWFLAKE_AUTHENTICATOR", "workload_identity");
    vi.stubEnv("SNOWFLAKE_TOKEN", "eyJ-a-github-oidc-token");
    const store = new LocalStore(join(tempDir("train-on-batch-"), "store"));
    batchMock.on(DescribeJobDefinitionsCommand).resolves({ jobDefinitions: [] });
    batchMock.on(RegisterJobDefinitionCommand).rejects(new Error("stop after the definition"));
    await expect(
      trainOnBatch({ config: configWith(), runId: "r2", store, reporter: silentReporter() }),
    ).rejects.toThrow();
    const registered = batchMock.commandCalls(RegisterJobDefinitionCommand)[0]?.args[0].input;
    const environment = registered?.containerProperties?.environment ?? [];
    expect(environment).toContainEqual({
      name: "SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER",
      value: "AWS",
    });
    expect(environment).toContainEqual({
      name: "SNOWFLAKE_AUTHENTICATOR",
      value: "workload_identity",
    });
    expect(JSON.stringify(registered)).not.toContain("eyJ-a-github-oidc-token");
  });
});
