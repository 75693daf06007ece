/**
 * The SageMaker deployment against recorded call sequences: every request, the waiter's polls and
 * each failure path, with SageMaker, SageMaker Runtime and S3 replaced by aws-sdk-client-mock.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateEndpointCommand,
  CreateEndpointConfigCommand,
  CreateModelCommand,
  DeleteEndpointConfigCommand,
  DeleteModelCommand,
  DescribeEndpointCommand,
  DescribeEndpointConfigCommand,
  ListEndpointConfigsCommand,
  ListModelsCommand,
  ListTagsCommand,
  SageMakerClient,
  UpdateEndpointCommand,
} from "@aws-sdk/client-sagemaker";
import type { DescribeEndpointCommandOutput } from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { InputError, PipelineError } from "../../pipeline/errors.ts";
import { PACKAGE_FILES } from "../../pipeline/promote/model-package.ts";
import {
  ENDPOINT_TAG,
  RUN_TAG,
  deployToSageMaker,
  deploymentName,
  sageMakerDeploymentRecord,
} from "../../pipeline/promote/sagemaker.ts";
import type { SageMakerDeployRequest, SageMakerDeps } from "../../pipeline/promote/sagemaker.ts";
import {
  SAGEMAKER_NAME,
  parseTrafficRouting,
  validateSageMakerSettings,
} from "../../pipeline/promote/sagemaker-settings.ts";
import type { SageMakerSettings } from "../../pipeline/promote/sagemaker-settings.ts";

const sm = mockClient(SageMakerClient);
const runtime = mockClient(SageMakerRuntimeClient);
const s3 = mockClient(S3Client);

const RUN = "20261123-100000-abcdef";
const NOW = new Date("2026-11-23T10:00:00.000Z");
const NEW = "recs-20261123-100000-abcdef-20261123100000000";
const OLD = "recs-20261120-090000-000000-20261120090000000";
const ROLE = "arn:aws:iam::123456789012:role/service-role/recs-sagemaker";
const IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/recs-serve:1.0.0";

const settings: SageMakerSettings = {
  region: "eu-west-1",
  endpointName: "recs",
  image: IMAGE,
  executionRoleArn: ROLE,
  instanceType: "ml.m5.large",
  instanceCount: 2,
  modelData: "s3://recs-models/sagemaker",
  trafficRouting: { type: "CANARY", percent: 25, waitSeconds: 300 },
  terminationWaitSeconds: 120,
  maxExecutionTimeoutSeconds: 3600,
  alarms: ["recs-5xx", "recs-latency-p99"],
  keep: 1,
  waitSeconds: 600,
};
const deps: SageMakerDeps = { waiterDelays: { minDelay: 0.001, maxDelay: 0.002 }, now: () => NOW };
const SESSIONS = [["sku-1", "sku-2"], ["sku-3"]];

let scratch: string;
let artifactDir: string;
let packageSha: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "promote-sagemaker-"));
  artifactDir = join(scratch, "model");
  await mkdir(artifactDir);
  for (const name of PACKAGE_FILES) {
    await writeFile(join(artifactDir, name), name === "weights.bin" ? randomBytes(512) : "{}");
  }
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  sm.reset();
  runtime.reset();
  s3.reset();
  s3.on(PutObjectCommand).callsFake((input: { Body: Uint8Array }) => {
    packageSha = createHash("sha256").update(input.Body).digest("hex");
    return {};
  });
});

const request: SageMakerDeployRequest = { runId: RUN, artifactDir: "", smokeSessions: SESSIONS };
const req = (): SageMakerDeployRequest => ({ ...request, artifactDir });

function notFound(): Error {
  const error = new Error(`Could not find endpoint "recs".`);
  error.name = "ValidationException";
  return error;
}
function endpoint(
  status: DescribeEndpointCommandOutput["EndpointStatus"],
  config: string,
  failure?: string,
): Partial<DescribeEndpointCommandOutput> {
  return {
    EndpointName: "recs",
    EndpointStatus: status,
    EndpointConfigName: config,
    ...(failure ? { FailureReason: failure } : {}),
  };
}
/** A well-formed response: k distinct SKUs per session, scores best first. */
function predictions(k: number, sessions = SESSIONS.length): string {
  return JSON.stringify({
    predictions: Array.from({ length: sessions }, () => ({
      items: Array.from({ length: k }, (_, i) => ({ sku: `p${i}`, score: 1 - i / 100 })),
      unknownSkus: 0,
      fallback: false,
    })),
  });
}
function invokeAnswers(body: string): void {
  runtime.on(InvokeEndpointCommand).callsFake(() => ({ Body: new TextEncoder().encode(body) }));
}
/** Cleanup listings: each resource as [name, created day, endpoint tag]. */
function listings(
  configs: [string, number, string][],
  models: [string, number, string][],
  references: Record<string, string> = {},
): void {
  const arn = (kind: string, name: string) =>
    `arn:aws:sagemaker:eu-west-1:123456789012:${kind}/${name}`;
  const day = (d: number) => new Date(Date.UTC(2026, 10, d));
  sm.on(ListEndpointConfigsCommand).resolves({
    EndpointConfigs: configs.map(([name, d]) => ({
      EndpointConfigName: name,
      EndpointConfigArn: arn("endpoint-config", name),
      CreationTime: day(d),
    })),
  });
  sm.on(ListModelsCommand).resolves({
    Models: models.map(([name, d]) => ({
      ModelName: name,
      ModelArn: arn("model", name),
      CreationTime: day(d),
    })),
  });
  for (const [kind, list] of [
    ["endpoint-config", configs],
    ["model", models],
  ] as const) {
    for (const [name, , tag] of list) {
      sm.on(ListTagsCommand, { ResourceArn: arn(kind, name) }).resolves({
        Tags: [{ Key: ENDPOINT_TAG, Value: tag }],
      });
    }
  }
  sm.on(DescribeEndpointConfigCommand).callsFake((input: { EndpointConfigName: string }) => ({
    EndpointConfigName: input.EndpointConfigName,
    ProductionVariants: [
      {
        VariantName: "AllTraffic",
        ModelName: references[input.EndpointConfigName] ?? input.EndpointConfigName,
      },
    ],
  }));
}

/** Every call to the three clients, in the order they were made, without "Command". */
function sequence(): string[] {
  const all = [...sm.calls(), ...runtime.calls(), ...s3.calls()];
  return all
    .sort((a, b) => (a.calledBefore(b) ? -1 : 1))
    .map((call) => call.args[0].constructor.name.replace(/Command$/, ""));
}
async function failure(promise: Promise<unknown>): Promise<PipelineError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PipelineError);
  return error as PipelineError;
}
function expectNoDeletes(): void {
  expect(sm.commandCalls(DeleteEndpointConfigCommand)).toHaveLength(0);
  expect(sm.commandCalls(DeleteModelCommand)).toHaveLength(0);
}

describe("deployToSageMaker", () => {
  it("turns on Data Capture of requests and answers when a destination is set", async () => {
    sm.on(DescribeEndpointCommand).rejectsOnce(notFound()).resolves(endpoint("InService", NEW));
    invokeAnswers(predictions(10));
    listings([[NEW, 23, "recs"]], [[NEW, 23, "recs"]]);
    const capturing = {
      ...settings,
      dataCapture: { destination: "s3://recs-runs/datacapture", percent: 25 },
    };

    await deployToSageMaker(capturing, req(), deps);

    expect(sm.commandCalls(CreateEndpointConfigCommand)[0]?.args[0].input).toMatchObject({
      EndpointConfigName: NEW,
      DataCaptureConfig: {
        EnableCapture: true,
        InitialSamplingPercentage: 25,
        DestinationS3Uri: "s3://recs-runs/datacapture",
        CaptureOptions: [{ CaptureMode: "Input" }, { CaptureMode: "Output" }],
        CaptureContentTypeHeader: { JsonContentTypes: ["application/json"] },
      },
    });
  });

  it("first deploy: uploads, creates model, config and endpoint, waits, verifies, smoke-tests", async () => {
    sm.on(DescribeEndpointCommand)
      .rejectsOnce(notFound())
      .resolvesOnce(endpoint("Creating", NEW))
      .resolves(endpoint("InService", NEW));
    invokeAnswers(predictions(10));
    listings([[NEW, 23, "recs"]], [[NEW, 23, "recs"]]);

    const result = await deployToSageMaker(settings, req(), deps);

    expect(sequence()).toEqual([
      "DescribeEndpoint",
      "PutObject",
      "CreateModel",
      "CreateEndpointConfig",
      "CreateEndpoint",
      "DescribeEndpoint", // waiter: Creating
      "DescribeEndpoint", // waiter: InService
      "DescribeEndpoint", // which config serves
      "InvokeEndpoint",
      "ListEndpointConfigs",
      "ListTags",
      "DescribeEndpointConfig",
      "ListModels",
      "ListTags",
    ]);
    const put = s3.commandCalls(PutObjectCommand)[0]?.args[0].input;
    expect(put).toMatchObject({
      Bucket: "recs-models",
      Key: `sagemaker/${RUN}/model.tar.gz`,
      ContentType: "application/gzip",
      ChecksumSHA256: Buffer.from(packageSha, "hex").toString("base64"),
    });
    const tags = [
      { Key: ENDPOINT_TAG, Value: "recs" },
      { Key: RUN_TAG, Value: RUN },
    ];
    expect(sm.commandCalls(CreateModelCommand)[0]?.args[0].input).toEqual({
      ModelName: NEW,
      ExecutionRoleArn: ROLE,
      PrimaryContainer: {
        Image: IMAGE,
        ModelDataUrl: `s3://recs-models/sagemaker/${RUN}/model.tar.gz`,
        Environment: { MLOPS_RUN_ID: RUN },
      },
      Tags: tags,
    });
    expect(sm.commandCalls(CreateEndpointConfigCommand)[0]?.args[0].input).toEqual({
      EndpointConfigName: NEW,
      ProductionVariants: [
        {
          VariantName: "AllTraffic",
          ModelName: NEW,
          InstanceType: "ml.m5.large",
          InitialInstanceCount: 2,
          InitialVariantWeight: 1,
        },
      ],
      Tags: tags,
    });
    expect(sm.commandCalls(CreateEndpointCommand)[0]?.args[0].input).toEqual({
      EndpointName: "recs",
      EndpointConfigName: NEW,
      Tags: [{ Key: ENDPOINT_TAG, Value: "recs" }],
    });
    const invoke = runtime.commandCalls(InvokeEndpointCommand)[0]?.args[0].input;
    expect(invoke).toMatchObject({ EndpointName: "recs", ContentType: "application/json" });
    expect(JSON.parse(new TextDecoder().decode(invoke?.Body as Uint8Array))).toEqual({
      sessions: SESSIONS,
      k: 10,
    });
    expect(result).toEqual({
      endpointName: "recs",
      action: "create",
      endpointConfigName: NEW,
      modelName: NEW,
      modelDataUrl: `s3://recs-models/sagemaker/${RUN}/model.tar.gz`,
      packageSha256: packageSha,
      previousEndpointConfigName: null,
      smoke: { sessions: 2, k: 10 },
      deleted: { endpointConfigs: [], models: [] },
    });
    expect(sageMakerDeploymentRecord(result)).toEqual({
      target: "sagemaker",
      endpoint: "recs",
      endpointConfigName: NEW,
      modelName: NEW,
      modelDataUrl: `s3://recs-models/sagemaker/${RUN}/model.tar.gz`,
      modelDataSha256: packageSha,
    });
  });

  it("update: blue/green with canary traffic and alarms, then cleanup that keeps serving and previous", async () => {
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolvesOnce(endpoint("Updating", OLD))
      .resolves(endpoint("InService", NEW));
    invokeAnswers(predictions(10));
    // Newest first: NEW, r3, r2, then OLD (serving until now), r1. Plus a look-alike of another
    // endpoint ("recs-staging") and a name that contains "recs" without being ours.
    listings(
      [
        [NEW, 23, "recs"],
        ["recs-r3-1", 22, "recs"],
        ["recs-r2-1", 21, "recs"],
        ["recs-staging-r9-1", 21, "recs-staging"],
        [OLD, 20, "recs"],
        ["recs-r1-1", 19, "recs"],
        ["my-recs-1", 18, "my-recs"],
      ],
      [
        [NEW, 23, "recs"],
        ["recs-r3-1", 22, "recs"],
        ["recs-r2-1", 21, "recs"],
        ["recs-old-model", 20, "recs"],
        ["recs-r1-1", 19, "recs"],
        ["recs-staging-r9-1", 21, "recs-staging"],
      ],
      { [OLD]: "recs-old-model" },
    );

    const result = await deployToSageMaker(settings, req(), deps);

    expect(sequence()).toEqual([
      "DescribeEndpoint",
      "PutObject",
      "CreateModel",
      "CreateEndpointConfig",
      "UpdateEndpoint",
      "DescribeEndpoint",
      "DescribeEndpoint",
      "DescribeEndpoint",
      "InvokeEndpoint",
      "ListEndpointConfigs",
      ...Array(6).fill("ListTags"), // "my-recs-1" does not start with "recs-": never looked at
      "DescribeEndpointConfig",
      "DescribeEndpointConfig",
      "ListModels",
      ...Array(6).fill("ListTags"),
      "DeleteEndpointConfig",
      "DeleteEndpointConfig",
      "DeleteEndpointConfig",
      "DeleteModel",
      "DeleteModel",
      "DeleteModel",
    ]);
    expect(sm.commandCalls(UpdateEndpointCommand)[0]?.args[0].input).toEqual({
      EndpointName: "recs",
      EndpointConfigName: NEW,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: {
            Type: "CANARY",
            WaitIntervalInSeconds: 300,
            CanarySize: { Type: "CAPACITY_PERCENT", Value: 25 },
          },
          TerminationWaitInSeconds: 120,
          MaximumExecutionTimeoutInSeconds: 3600,
        },
        AutoRollbackConfiguration: {
          Alarms: [{ AlarmName: "recs-5xx" }, { AlarmName: "recs-latency-p99" }],
        },
      },
    });
    expect(
      sm.commandCalls(DescribeEndpointConfigCommand).map((c) => c.args[0].input.EndpointConfigName),
    ).toEqual([NEW, OLD]);
    expect(result.action).toBe("update");
    expect(result.previousEndpointConfigName).toBe(OLD);
    expect(result.deleted).toEqual({
      endpointConfigs: ["recs-r3-1", "recs-r2-1", "recs-r1-1"],
      models: ["recs-r3-1", "recs-r2-1", "recs-r1-1"],
    });
  });

  it("linear and all-at-once traffic, no alarms: no AutoRollbackConfiguration", async () => {
    for (const trafficRouting of [
      { type: "LINEAR", percent: 20, waitSeconds: 60 },
      { type: "ALL_AT_ONCE", waitSeconds: 0 },
    ] as const) {
      sm.reset();
      sm.on(DescribeEndpointCommand)
        .resolvesOnce(endpoint("InService", OLD))
        .resolves(endpoint("InService", NEW));
      invokeAnswers(predictions(10));
      listings([], []);
      await deployToSageMaker({ ...settings, trafficRouting, alarms: [] }, req(), deps);
      const config = sm.commandCalls(UpdateEndpointCommand)[0]?.args[0].input.DeploymentConfig;
      expect(config?.AutoRollbackConfiguration).toBeUndefined();
      expect(config?.BlueGreenUpdatePolicy?.TrafficRoutingConfiguration).toEqual(
        trafficRouting.type === "LINEAR"
          ? {
              Type: "LINEAR",
              WaitIntervalInSeconds: 60,
              LinearStepSize: { Type: "CAPACITY_PERCENT", Value: 20 },
            }
          : { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: 0 },
      );
    }
  });

  it("Failed endpoint: names the FailureReason, leaves the previous config, deletes nothing", async () => {
    const reason =
      "The primary container for production variant AllTraffic did not pass the ping health check.";
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolvesOnce(endpoint("Updating", OLD))
      .resolves(endpoint("Failed", OLD, reason));

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain(`FailureReason: ${reason}`);
    expect(error.message).toContain(
      `the previous config ${OLD} is left serving and was not deleted`,
    );
    expect(error.message).toContain("the endpoint is Failed");
    expect(sequence()).toEqual([
      "DescribeEndpoint",
      "PutObject",
      "CreateModel",
      "CreateEndpointConfig",
      "UpdateEndpoint",
      "DescribeEndpoint",
      "DescribeEndpoint", // waiter: Failed ends it
      "DescribeEndpoint",
    ]);
    expectNoDeletes();
  });

  it("UpdateRollbackFailed: stops waiting at once and says how to restore by hand", async () => {
    const reason = "Rollback failed: insufficient capacity for ml.m5.large";
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolves(endpoint("UpdateRollbackFailed", NEW, reason));

    // waitSeconds is 600: only the early stop lets this test end.
    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain("could not roll it back (status UpdateRollbackFailed");
    expect(error.message).toContain(reason);
    expect(error.message).toContain(`the previous config ${OLD} was not deleted`);
    expect(error.hint).toContain(`--endpoint-config-name ${OLD}`);
    expect(sm.commandCalls(DescribeEndpointCommand)).toHaveLength(3);
    expect(runtime.calls()).toHaveLength(0);
    expectNoDeletes();
  });

  it("an update SageMaker rolled back (InService on the old config) is a failure", async () => {
    const reason = "Alarm recs-5xx went into ALARM during the canary";
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolvesOnce(endpoint("RollingBack", NEW))
      .resolves(endpoint("InService", OLD, reason));

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain(
      `SageMaker rolled the update back: the endpoint serves ${OLD}, not ${NEW}`,
    );
    expect(error.message).toContain(reason);
    expect(runtime.calls()).toHaveLength(0);
    expectNoDeletes();
  });

  it("waiter timeout: reports the status and leaves everything in place", async () => {
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolves(endpoint("Updating", OLD));

    const error = await failure(deployToSageMaker({ ...settings, waitSeconds: 0.2 }, req(), deps));

    expect(error.message).toContain(
      `did not reach InService with ${NEW} within 0.2 s (status Updating)`,
    );
    expect(error.message).toContain(`the previous config ${OLD} is left serving`);
    expect(error.hint).toContain("promote.sagemaker.waitSeconds");
    expect(runtime.calls()).toHaveLength(0);
    expectNoDeletes();
  });

  it("smoke test failure after an update switches back to the previous config", async () => {
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolvesOnce(endpoint("InService", NEW)) // waiter
      .resolvesOnce(endpoint("InService", NEW)) // verify
      .resolvesOnce(endpoint("Updating", NEW)) // waiter, switching back
      .resolves(endpoint("InService", OLD));
    invokeAnswers(predictions(3));

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain("smoke test of endpoint recs");
    expect(error.message).toContain("session 0: expected 10 items, got 3");
    expect(error.message).toContain(`the previous config ${OLD} serves again`);
    expect(sequence()).toEqual([
      "DescribeEndpoint",
      "PutObject",
      "CreateModel",
      "CreateEndpointConfig",
      "UpdateEndpoint",
      "DescribeEndpoint",
      "DescribeEndpoint",
      "InvokeEndpoint",
      "UpdateEndpoint",
      "DescribeEndpoint",
      "DescribeEndpoint",
      "DescribeEndpoint",
    ]);
    expect(sm.commandCalls(UpdateEndpointCommand)[1]?.args[0].input).toEqual({
      EndpointName: "recs",
      EndpointConfigName: OLD,
      DeploymentConfig: {
        BlueGreenUpdatePolicy: {
          TrafficRoutingConfiguration: { Type: "ALL_AT_ONCE", WaitIntervalInSeconds: 0 },
          TerminationWaitInSeconds: 120,
          MaximumExecutionTimeoutInSeconds: 3600,
        },
      },
    });
    expectNoDeletes();
  });

  it("a failed switch back says so and how to restore by hand", async () => {
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolvesOnce(endpoint("InService", NEW))
      .resolvesOnce(endpoint("InService", NEW))
      .resolves(endpoint("Failed", NEW, "capacity"));
    invokeAnswers("not json");

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain(`switching back to ${OLD} did not complete (status Failed`);
    expect(error.hint).toContain(`--endpoint-config-name ${OLD}`);
    expectNoDeletes();
  });

  it.each([
    ["not json", "the response is not JSON"],
    [JSON.stringify({ instances: [] }), 'no "predictions" array'],
    [predictions(10, 1), "1 predictions for 2 sessions"],
    [
      JSON.stringify({
        predictions: SESSIONS.map(() => ({ items: Array(10).fill({ sku: "a", score: 1 }) })),
      }),
      "sku a recommended twice",
    ],
    [
      JSON.stringify({
        predictions: SESSIONS.map(() => ({
          items: Array.from({ length: 10 }, (_, i) => ({ sku: `s${i}`, score: i })),
        })),
      }),
      "not ordered best first",
    ],
    [
      JSON.stringify({
        predictions: SESSIONS.map(() => ({
          items: Array.from({ length: 10 }, (_, i) => ({ sku: `s${i}`, score: null })),
        })),
      }),
      "has no finite score",
    ],
  ])("first deploy smoke test rejects %s", async (body, problem) => {
    sm.on(DescribeEndpointCommand).rejectsOnce(notFound()).resolves(endpoint("InService", NEW));
    invokeAnswers(body);

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain(problem);
    expect(error.message).toContain("no previous config to go back to");
    expect(sm.commandCalls(UpdateEndpointCommand)).toHaveLength(0);
    expectNoDeletes();
  });

  it("an InvokeEndpoint error (ModelError) fails the smoke test", async () => {
    sm.on(DescribeEndpointCommand).rejectsOnce(notFound()).resolves(endpoint("InService", NEW));
    const modelError = new Error("Received server error (500) from primary");
    modelError.name = "ModelError";
    runtime.on(InvokeEndpointCommand).rejects(modelError);

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain(
      "InvokeEndpoint failed: ModelError: Received server error (500)",
    );
  });

  it("checks the serving model's model.tar.gz against its recorded sha256 before changing anything", async () => {
    const recorded = "ab".repeat(32);
    const serving = {
      runId: "run-old",
      modelDataUrl: "s3://recs-models/sagemaker/run-old/model.tar.gz",
      sha256: recorded,
    };
    // Replaced since it was deployed: S3's checksum is another one. Nothing is touched.
    sm.on(DescribeEndpointCommand).resolves(endpoint("InService", OLD));
    s3.on(HeadObjectCommand).resolves({
      ChecksumSHA256: Buffer.from("cd".repeat(32), "hex").toString("base64"),
    });
    const error = await failure(deployToSageMaker(settings, { ...req(), serving }, deps));
    expect(error.message).toBe(
      `the model data of run run-old, in production, is not what was deployed: ${serving.modelDataUrl} has sha256 ${"cd".repeat(32)}, the registry recorded ${recorded}`,
    );
    expect(error.hint).toContain("Do not deploy over it");
    expect(sequence()).toEqual(["DescribeEndpoint", "HeadObject"]);
    expect(s3.commandCalls(HeadObjectCommand)[0]?.args[0].input).toEqual({
      Bucket: "recs-models",
      Key: "sagemaker/run-old/model.tar.gz",
      ChecksumMode: "ENABLED",
    });

    // As deployed: the deployment goes on, and records the new package's sha256.
    sm.reset();
    s3.reset();
    s3.on(PutObjectCommand).callsFake((input: { Body: Uint8Array }) => {
      packageSha = createHash("sha256").update(input.Body).digest("hex");
      return {};
    });
    s3.on(HeadObjectCommand).resolves({
      ChecksumSHA256: Buffer.from(recorded, "hex").toString("base64"),
    });
    sm.on(DescribeEndpointCommand)
      .resolvesOnce(endpoint("InService", OLD))
      .resolvesOnce(endpoint("Updating", OLD))
      .resolves(endpoint("InService", NEW));
    invokeAnswers(predictions(10));
    listings(
      [
        [NEW, 23, "recs"],
        [OLD, 20, "recs"],
      ],
      [
        [NEW, 23, "recs"],
        [OLD, 20, "recs"],
      ],
    );
    const result = await deployToSageMaker(settings, { ...req(), serving }, deps);
    expect(sequence().slice(0, 3)).toEqual(["DescribeEndpoint", "HeadObject", "PutObject"]);
    expect(sageMakerDeploymentRecord(result).modelDataSha256).toBe(packageSha);
  });

  it("refuses to deploy over an endpoint that is not InService, before uploading", async () => {
    sm.on(DescribeEndpointCommand).resolves(endpoint("Failed", OLD, "bad image"));
    const failed = await failure(deployToSageMaker(settings, req(), deps));
    expect(failed.message).toContain("recs is Failed (FailureReason: bad image)");
    expect(failed.hint).toContain("delete-endpoint");

    sm.reset();
    sm.on(DescribeEndpointCommand).resolves(endpoint("Updating", OLD));
    const busy = await failure(deployToSageMaker(settings, req(), deps));
    expect(busy.hint).toContain("wait until the operation in progress ends");
    expect(sequence()).toEqual(["DescribeEndpoint"]);
  });

  it("an AWS error names the call and the permissions to check", async () => {
    sm.on(DescribeEndpointCommand).rejects(notFound());
    const denied = new Error("User is not authorized to perform: iam:PassRole");
    denied.name = "AccessDeniedException";
    sm.on(CreateModelCommand).rejects(denied);

    const error = await failure(deployToSageMaker(settings, req(), deps));

    expect(error.message).toContain(`CreateModel ${NEW} failed: AccessDeniedException`);
    expect(error.hint).toContain("iam:PassRole");
    expect(sequence()).toEqual(["DescribeEndpoint", "PutObject", "CreateModel"]);
  });

  it("rejects invalid settings before any call, listing every problem", async () => {
    const bad: SageMakerSettings = {
      ...settings,
      endpointName: "recs_prod",
      executionRoleArn: "arn:aws:iam::1234:user/me",
      instanceType: "m5.large",
      trafficRouting: { type: "CANARY", percent: 80, waitSeconds: 300 },
      modelData: "s3://Bad_Bucket/x",
      alarms: Array.from({ length: 11 }, (_, i) => `alarm-${i}`),
    };
    const error = await deployToSageMaker(bad, req(), deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    const message = (error as InputError).message;
    for (const field of ["endpoint", "role", "instanceType", "traffic", "modelData", "alarms"]) {
      expect(message).toContain(`promote.sagemaker.${field}:`);
    }
    expect(sequence()).toEqual([]);
  });

  it("rejects an empty smoke test before any call", async () => {
    await expect(
      deployToSageMaker(settings, { ...req(), smokeSessions: [] }, deps),
    ).rejects.toThrow(/at least one session/);
    expect(sequence()).toEqual([]);
  });
});

describe("SageMaker settings", () => {
  it("accepts the documented shapes", () => {
    expect(validateSageMakerSettings(settings)).toEqual(settings);
  });

  it("checks the timeout against the deployment's own waits", () => {
    expect(() =>
      validateSageMakerSettings({
        ...settings,
        trafficRouting: { type: "LINEAR", percent: 10, waitSeconds: 600 },
        maxExecutionTimeoutSeconds: 3600,
      }),
    ).toThrow(/must exceed the deployment's own waits \(6120 s/);
  });

  it("parses the traffic routing's text form", () => {
    expect(parseTrafficRouting("all-at-once", 60)).toEqual({
      type: "ALL_AT_ONCE",
      waitSeconds: 60,
    });
    expect(parseTrafficRouting("canary:10", 60)).toEqual({
      type: "CANARY",
      percent: 10,
      waitSeconds: 60,
    });
    expect(parseTrafficRouting("LINEAR:25", 5)).toEqual({
      type: "LINEAR",
      percent: 25,
      waitSeconds: 5,
    });
    expect(() => parseTrafficRouting("canary", 60)).toThrow(/invalid traffic routing "canary"/);
    expect(() => parseTrafficRouting("all-at-once:5", 60)).toThrow(InputError);
  });

  it("names deployments uniquely within SageMaker's 63 characters", () => {
    expect(deploymentName("recs", RUN, NOW)).toBe(NEW);
    const long = deploymentName("a".repeat(63), "run.with_odd--chars." + "x".repeat(60), NOW);
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(SAGEMAKER_NAME);
    expect(long).toMatch(/-run-with-odd-chars-x+-20261123100000000$/);
    expect(deploymentName("recs", RUN, new Date(NOW.getTime() + 1))).not.toBe(NEW);
  });
});
