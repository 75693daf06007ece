/**
 * `pipeline promote --target sagemaker`: ship a run's model to a SageMaker real-time endpoint.
 *
 *  1. Check the settings and that the endpoint is absent or InService (never start a second
 *     deployment over one in flight, nor update a Failed endpoint).
 *  2. Upload model.tar.gz to `<modelData>/<run id>/model.tar.gz`.
 *  3. CreateModel and CreateEndpointConfig, both under a new name unique to this deployment and
 *     tagged `mlops-session-recs:endpoint=<endpoint>` so cleanup finds only what we made.
 *  4. CreateEndpoint (first deploy) or UpdateEndpoint with a blue/green deployment config
 *     (traffic shifting, termination wait, timeout, alarm-driven auto-rollback).
 *  5. Wait with the SDK's waitUntilEndpointInService, then check the endpoint really serves the
 *     new config: a blue/green update that fails or trips an alarm ends InService on the OLD
 *     config, which the waiter alone reports as success.
 *  6. Smoke-test through InvokeEndpoint with real test sessions in the server's protocol; when it
 *     fails after an update, switch back to the previous config.
 *  7. Delete this endpoint's older configs and models beyond `keep`, never the serving or the
 *     previous one.
 * Any failure leaves the previous config serving and deletes nothing.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
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
  waitUntilEndpointInService,
} from "@aws-sdk/client-sagemaker";
import type {
  DeploymentConfig,
  DescribeEndpointCommandOutput,
  EndpointStatus,
  Tag,
  TrafficRoutingConfig,
} from "@aws-sdk/client-sagemaker";
import { InvokeEndpointCommand, SageMakerRuntimeClient } from "@aws-sdk/client-sagemaker-runtime";
import { InputError, PipelineError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import { silentReporter } from "../reporter.ts";
import { validateRunId } from "../store/runs.ts";
import { parseS3Url } from "../store/s3-store.ts";
import { buildModelPackage } from "./model-package.ts";
import type { DeploymentRecord } from "../store/registry.ts";
import { validateSageMakerSettings } from "./sagemaker-settings.ts";
import type { SageMakerSettings } from "./sagemaker-settings.ts";

/** The tag that marks models and endpoint configs this template created for an endpoint. */
export const ENDPOINT_TAG = "mlops-session-recs:endpoint";
export const RUN_TAG = "mlops-session-recs:run-id";
const VARIANT = "AllTraffic";

export interface SageMakerDeployRequest {
  runId: string;
  /** The run's model artifact folder (model.json, weights.bin, vocabulary.json, …). */
  artifactDir: string;
  /** Real test sessions (SKUs, oldest first) for the smoke test; at least one. */
  smokeSessions: string[][];
  /** Recommendations asked per smoke session; each must come back with exactly k. Default 10. */
  smokeK?: number;
  /**
   * The model serving now, as the registry recorded it. Its model.tar.gz is what SageMaker
   * reads on every instance launch, and what a failed update falls back to: it is checked
   * against the recorded sha256 before anything changes.
   */
  serving?: { runId: string; modelDataUrl: string; sha256: string };
}

export interface SageMakerDeps {
  sagemaker?: SageMakerClient;
  runtime?: SageMakerRuntimeClient;
  s3?: S3Client;
  /** Waiter polling bounds in seconds (default 15 and 60); tests make them tiny. */
  waiterDelays?: { minDelay: number; maxDelay: number };
  now?: () => Date;
  reporter?: Reporter;
}

export interface SageMakerDeployResult {
  endpointName: string;
  action: "create" | "update";
  endpointConfigName: string;
  modelName: string;
  modelDataUrl: string;
  packageSha256: string;
  /** The config that served before; null on a first deploy. */
  previousEndpointConfigName: string | null;
  smoke: { sessions: number; k: number };
  deleted: { endpointConfigs: string[]; models: string[] };
}

type WaitOutcome = "in-service" | "failed" | "stuck" | "timeout";
/** States the InService waiter would poll until its time runs out; nothing will change them. */
const STUCK: ReadonlySet<EndpointStatus> = new Set(["UpdateRollbackFailed", "Deleting"]);

export async function deployToSageMaker(
  settingsInput: SageMakerSettings,
  request: SageMakerDeployRequest,
  deps: SageMakerDeps = {},
): Promise<SageMakerDeployResult> {
  const settings = validateSageMakerSettings(settingsInput);
  validateRunId(request.runId);
  const k = request.smokeK ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > 100) {
    throw new InputError(`smoke test k must be an integer 1-100, got ${k}`, { field: "smokeK" });
  }
  if (request.smokeSessions.length === 0 || request.smokeSessions.some((s) => s.length === 0)) {
    throw new InputError(
      "the smoke test needs at least one session, and no empty session",
      { field: "smokeSessions" },
      "pass sessions from the run's test split",
    );
  }
  const reporter = deps.reporter ?? silentReporter();
  const sagemaker = deps.sagemaker ?? new SageMakerClient({ region: settings.region });
  const runtime = deps.runtime ?? new SageMakerRuntimeClient({ region: settings.region });
  const s3 = deps.s3 ?? new S3Client({ region: settings.region });
  const endpointName = settings.endpointName;
  const call = awsCaller(endpointName);

  const existing = await describeEndpoint(sagemaker, endpointName);
  if (existing && existing.EndpointStatus !== "InService") {
    const status = existing.EndpointStatus ?? "in an unknown state";
    throw new PipelineError(
      `SageMaker endpoint ${endpointName} is ${status}` +
        `${existing.FailureReason ? ` (FailureReason: ${existing.FailureReason})` : ""}; ` +
        `refusing to deploy run ${request.runId} over it`,
      1,
      status === "Failed"
        ? `delete it (aws sagemaker delete-endpoint --endpoint-name ${endpointName}) and promote again`
        : status === "UpdateRollbackFailed"
          ? `restore it by hand (aws sagemaker update-endpoint --endpoint-name ${endpointName} --endpoint-config-name <a working config>), then promote again`
          : "wait until the operation in progress ends (aws sagemaker describe-endpoint), then promote again",
    );
  }
  if (request.serving) await checkServingModelData(s3, request.serving, call);
  const previousConfig = existing?.EndpointConfigName ?? null;
  const name = deploymentName(endpointName, request.runId, (deps.now ?? (() => new Date()))());
  const tags: Tag[] = [
    { Key: ENDPOINT_TAG, Value: endpointName },
    { Key: RUN_TAG, Value: request.runId },
  ];

  // 2. The package, uploaded under the run id.
  const { bucket, prefix } = parseS3Url(settings.modelData);
  const key = [prefix, request.runId, "model.tar.gz"].filter((part) => part !== "").join("/");
  const modelDataUrl = `s3://${bucket}/${key}`;
  const work = await mkdtemp(join(tmpdir(), "sagemaker-package-"));
  let sha256: string;
  try {
    const pkg = await buildModelPackage(request.artifactDir, join(work, "model.tar.gz"));
    sha256 = pkg.sha256;
    reporter.info(`uploading model.tar.gz (${pkg.bytes} bytes) to ${modelDataUrl}`);
    const body = await readFile(pkg.path);
    await call(`uploading ${modelDataUrl}`, () =>
      s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: "application/gzip",
          // S3 checks the bytes it stored against this; a corrupt upload fails here.
          ChecksumSHA256: Buffer.from(pkg.sha256, "hex").toString("base64"),
        }),
      ),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  // 3. Model and endpoint config.
  reporter.info(`creating model and endpoint config ${name}`);
  await call(`CreateModel ${name}`, () =>
    sagemaker.send(
      new CreateModelCommand({
        ModelName: name,
        ExecutionRoleArn: settings.executionRoleArn,
        PrimaryContainer: {
          Image: settings.image,
          ModelDataUrl: modelDataUrl,
          Environment: { MLOPS_RUN_ID: request.runId },
        },
        Tags: tags,
      }),
    ),
  );
  await call(`CreateEndpointConfig ${name}`, () =>
    sagemaker.send(
      new CreateEndpointConfigCommand({
        EndpointConfigName: name,
        ProductionVariants: [
          {
            VariantName: VARIANT,
            ModelName: name,
            InstanceType: settings.instanceType,
            InitialInstanceCount: settings.instanceCount,
            InitialVariantWeight: 1,
          },
        ],
        ...(settings.dataCapture
          ? { DataCaptureConfig: dataCaptureConfig(settings.dataCapture) }
          : {}),
        Tags: tags,
      }),
    ),
  );

  // 4. Create or update.
  if (existing) {
    reporter.info(
      `updating endpoint ${endpointName}: ${previousConfig} → ${name} (${settings.trafficRouting.type})`,
    );
    await call(`UpdateEndpoint ${endpointName}`, () =>
      sagemaker.send(
        new UpdateEndpointCommand({
          EndpointName: endpointName,
          EndpointConfigName: name,
          DeploymentConfig: blueGreenConfig(settings),
        }),
      ),
    );
  } else {
    reporter.info(`creating endpoint ${endpointName} with ${name}`);
    await call(`CreateEndpoint ${endpointName}`, () =>
      sagemaker.send(
        new CreateEndpointCommand({
          EndpointName: endpointName,
          EndpointConfigName: name,
          Tags: [{ Key: ENDPOINT_TAG, Value: endpointName }],
        }),
      ),
    );
  }

  // 5. Wait, then verify which config serves.
  const delays = deps.waiterDelays ?? { minDelay: 15, maxDelay: 60 };
  const outcome = await waitInService(sagemaker, endpointName, settings.waitSeconds, delays);
  const after = await describeEndpoint(sagemaker, endpointName);
  if (
    outcome !== "in-service" ||
    after?.EndpointStatus !== "InService" ||
    after.EndpointConfigName !== name
  ) {
    throw deploymentFailure(
      endpointName,
      name,
      previousConfig,
      outcome,
      after,
      settings.waitSeconds,
    );
  }

  // 6. Smoke test; after an update, a failure switches the endpoint back.
  const smokeProblem = await smokeTest(runtime, endpointName, request.smokeSessions, k);
  if (smokeProblem !== undefined) {
    if (previousConfig === null) {
      throw new PipelineError(
        `SageMaker smoke test of endpoint ${endpointName} (config ${name}) failed: ${smokeProblem}. ` +
          `It was a first deploy, so there is no previous config to go back to; the endpoint is left as is`,
        1,
        `inspect the model (CloudWatch logs /aws/sagemaker/Endpoints/${endpointName}); ` +
          `delete the endpoint (aws sagemaker delete-endpoint --endpoint-name ${endpointName}) or promote a working run`,
      );
    }
    reporter.warn(
      `smoke test failed (${smokeProblem}); switching ${endpointName} back to ${previousConfig}`,
    );
    await revert(sagemaker, endpointName, previousConfig, settings, delays, call);
    throw new PipelineError(
      `SageMaker smoke test of endpoint ${endpointName} (config ${name}) failed: ${smokeProblem}. ` +
        `The endpoint was switched back and the previous config ${previousConfig} serves again`,
      1,
      `the model of run ${request.runId} answers wrongly; check it with \`pipeline serve --model\` locally`,
    );
  }

  // 7. Cleanup, now that the new config serves.
  const deleted = await cleanup(sagemaker, settings, [name, previousConfig], call, reporter);
  return {
    endpointName,
    action: existing ? "update" : "create",
    endpointConfigName: name,
    modelName: name,
    modelDataUrl,
    packageSha256: sha256,
    previousEndpointConfigName: previousConfig,
    smoke: { sessions: request.smokeSessions.length, k },
    deleted,
  };
}

/** What the registry records about a SageMaker deployment. */
export function sageMakerDeploymentRecord(result: SageMakerDeployResult): DeploymentRecord {
  return {
    target: "sagemaker",
    endpoint: result.endpointName,
    endpointConfigName: result.endpointConfigName,
    modelName: result.modelName,
    modelDataUrl: result.modelDataUrl,
    modelDataSha256: result.packageSha256,
  };
}

/**
 * The serving model's model.tar.gz still has the sha256 recorded when it was promoted (S3 keeps
 * the checksum it verified at upload). A different one means somebody replaced it: every new
 * instance, and a fall-back after a failed update, would serve that.
 */
async function checkServingModelData(
  s3: S3Client,
  serving: NonNullable<SageMakerDeployRequest["serving"]>,
  call: AwsCaller,
): Promise<void> {
  const { bucket, prefix: key } = parseS3Url(serving.modelDataUrl);
  const head = await call(`checking ${serving.modelDataUrl}`, () =>
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" })),
  );
  const stored = head.ChecksumSHA256
    ? Buffer.from(head.ChecksumSHA256, "base64").toString("hex")
    : undefined;
  if (stored !== serving.sha256) {
    throw new PipelineError(
      `the model data of run ${serving.runId}, in production, is not what was deployed: ${serving.modelDataUrl} has sha256 ${stored ?? "(none recorded by S3)"}, the registry recorded ${serving.sha256}`,
      1,
      "Somebody replaced it. Do not deploy over it: find out who (CloudTrail), restore the recorded version (S3 keeps versions of the run store's bucket), then promote again.",
    );
  }
}

/** `<endpoint>-<run id>-<time>`, cut to SageMaker's 63 characters; unique per deployment. */
export function deploymentName(endpointName: string, runId: string, now: Date): string {
  const stamp = now.toISOString().replace(/\D/g, "").slice(0, 17); // yyyymmddhhmmssSSS
  const run = runId
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 24);
  const tail = `${run.replace(/-+$/, "")}-${stamp}`;
  const head = endpointName.slice(0, 63 - tail.length - 1).replace(/-+$/, "");
  return `${head}-${tail}`;
}

export function blueGreenConfig(settings: SageMakerSettings): DeploymentConfig {
  const routing = settings.trafficRouting;
  const traffic: TrafficRoutingConfig = {
    Type: routing.type,
    WaitIntervalInSeconds: routing.waitSeconds,
  };
  if (routing.type === "CANARY") {
    traffic.CanarySize = { Type: "CAPACITY_PERCENT", Value: routing.percent };
  } else if (routing.type === "LINEAR") {
    traffic.LinearStepSize = { Type: "CAPACITY_PERCENT", Value: routing.percent };
  }
  return {
    BlueGreenUpdatePolicy: {
      TrafficRoutingConfiguration: traffic,
      TerminationWaitInSeconds: settings.terminationWaitSeconds,
      MaximumExecutionTimeoutInSeconds: settings.maxExecutionTimeoutSeconds,
    },
    ...(settings.alarms.length > 0
      ? {
          AutoRollbackConfiguration: {
            Alarms: settings.alarms.map((AlarmName) => ({ AlarmName })),
          },
        }
      : {}),
  };
}

/** The endpoint, or undefined when SageMaker does not know it. */
async function describeEndpoint(
  client: SageMakerClient,
  endpointName: string,
): Promise<DescribeEndpointCommandOutput | undefined> {
  try {
    return await client.send(new DescribeEndpointCommand({ EndpointName: endpointName }));
  } catch (error) {
    const e = error as Error;
    if (e.name === "ValidationException" && /could not find endpoint/i.test(e.message)) {
      return undefined;
    }
    throw awsFailure(endpointName, `DescribeEndpoint ${endpointName}`, error);
  }
}

async function waitInService(
  client: SageMakerClient,
  endpointName: string,
  waitSeconds: number,
  delays: { minDelay: number; maxDelay: number },
): Promise<WaitOutcome> {
  // The SDK waiter polls until InService or Failed; on a state that will never change it would
  // poll until waitSeconds run out, so a watching client stops it early.
  const stuck = new AbortController();
  const watching = new Proxy(client, {
    get(target, property, receiver) {
      if (property !== "send") return Reflect.get(target, property, receiver);
      return async (command: DescribeEndpointCommand) => {
        const output = await target.send(command);
        if (output.EndpointStatus && STUCK.has(output.EndpointStatus)) stuck.abort();
        return output;
      };
    },
  });
  // The waiter insists on minDelay < maxWaitTime and minDelay <= maxDelay.
  const minDelay = Math.min(delays.minDelay, waitSeconds / 2);
  const maxDelay = Math.max(minDelay, Math.min(delays.maxDelay, waitSeconds));
  try {
    await waitUntilEndpointInService(
      { client: watching, maxWaitTime: waitSeconds, minDelay, maxDelay, abortSignal: stuck.signal },
      { EndpointName: endpointName },
    );
    return "in-service";
  } catch (error) {
    const name = (error as Error).name;
    if (name === "TimeoutError") return "timeout";
    if (name === "AbortError") return "stuck";
    return "failed";
  }
}

function deploymentFailure(
  endpointName: string,
  newConfig: string,
  previousConfig: string | null,
  outcome: WaitOutcome,
  endpoint: DescribeEndpointCommandOutput | undefined,
  waitSeconds: number,
): PipelineError {
  const status = endpoint?.EndpointStatus ?? "gone";
  const reason = endpoint?.FailureReason ? `; FailureReason: ${endpoint.FailureReason}` : "";
  const serving = endpoint?.EndpointConfigName;
  let what: string;
  let hint: string;
  if (status === "UpdateRollbackFailed") {
    what = `the update to ${newConfig} failed and SageMaker could not roll it back (status UpdateRollbackFailed${reason})`;
    hint =
      `the endpoint may serve a mix of both configs; restore it by hand: aws sagemaker update-endpoint ` +
      `--endpoint-name ${endpointName} --endpoint-config-name ${previousConfig ?? "<a working config>"}`;
  } else if (outcome === "timeout") {
    what = `the endpoint did not reach InService with ${newConfig} within ${waitSeconds} s (status ${status}${reason})`;
    hint =
      `SageMaker goes on with the deployment; check it with aws sagemaker describe-endpoint --endpoint-name ${endpointName}, ` +
      `or raise promote.sagemaker.waitSeconds`;
  } else if (status === "InService" && serving !== newConfig) {
    what = `SageMaker rolled the update back: the endpoint serves ${serving ?? "no config"}, not ${newConfig}${reason}`;
    hint = `see the FailureReason and the CloudWatch alarms; the model's logs are in /aws/sagemaker/Endpoints/${endpointName}`;
  } else {
    what = `the endpoint is ${status} after deploying ${newConfig}${reason}`;
    hint = `the model's logs are in CloudWatch under /aws/sagemaker/Endpoints/${endpointName}`;
  }
  const left =
    previousConfig === null
      ? "there was no previous config (first deploy)"
      : status === "UpdateRollbackFailed"
        ? `the previous config ${previousConfig} was not deleted`
        : `the previous config ${previousConfig} is left serving and was not deleted`;
  return new PipelineError(
    `SageMaker deployment to endpoint ${endpointName} failed: ${what}. ${left}`,
    1,
    hint,
  );
}

/**
 * Calls the endpoint with real sessions in the server's protocol; returns what was wrong, or
 * undefined when every session got k distinct SKUs with finite scores, best first.
 */
async function smokeTest(
  runtime: SageMakerRuntimeClient,
  endpointName: string,
  sessions: string[][],
  k: number,
): Promise<string | undefined> {
  let text: string;
  try {
    const output = await runtime.send(
      new InvokeEndpointCommand({
        EndpointName: endpointName,
        ContentType: "application/json",
        Accept: "application/json",
        Body: new TextEncoder().encode(JSON.stringify({ sessions, k })),
      }),
    );
    text = new TextDecoder().decode(output.Body);
  } catch (error) {
    return `InvokeEndpoint failed: ${(error as Error).name}: ${(error as Error).message}`;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `the response is not JSON: ${text.slice(0, 200)}`;
  }
  const predictions = (body as { predictions?: unknown } | null)?.predictions;
  if (!Array.isArray(predictions))
    return `the response has no "predictions" array: ${text.slice(0, 200)}`;
  if (predictions.length !== sessions.length) {
    return `${predictions.length} predictions for ${sessions.length} sessions`;
  }
  for (const [i, prediction] of predictions.entries()) {
    const items = (prediction as { items?: unknown } | null)?.items;
    if (!Array.isArray(items) || items.length !== k) {
      return `session ${i}: expected ${k} items, got ${Array.isArray(items) ? items.length : "none"}`;
    }
    const seen = new Set<string>();
    let last = Infinity;
    for (const item of items as { sku?: unknown; score?: unknown }[]) {
      if (typeof item?.sku !== "string" || item.sku === "")
        return `session ${i}: an item has no sku`;
      if (typeof item.score !== "number" || !Number.isFinite(item.score)) {
        return `session ${i}: item ${item.sku} has no finite score`;
      }
      if (seen.has(item.sku)) return `session ${i}: sku ${item.sku} recommended twice`;
      if (item.score > last) return `session ${i}: items are not ordered best first`;
      seen.add(item.sku);
      last = item.score;
    }
  }
  return undefined;
}

/** Puts the previous config back after a failed smoke test; all at once: the new model is bad. */
async function revert(
  client: SageMakerClient,
  endpointName: string,
  previousConfig: string,
  settings: SageMakerSettings,
  delays: { minDelay: number; maxDelay: number },
  call: AwsCaller,
): Promise<void> {
  await call(`UpdateEndpoint ${endpointName} back to ${previousConfig}`, () =>
    client.send(
      new UpdateEndpointCommand({
        EndpointName: endpointName,
        EndpointConfigName: previousConfig,
        DeploymentConfig: blueGreenConfig({
          ...settings,
          trafficRouting: { type: "ALL_AT_ONCE", waitSeconds: 0 },
          alarms: [],
        }),
      }),
    ),
  );
  const outcome = await waitInService(client, endpointName, settings.waitSeconds, delays);
  const after = await describeEndpoint(client, endpointName);
  if (outcome !== "in-service" || after?.EndpointConfigName !== previousConfig) {
    throw new PipelineError(
      `SageMaker smoke test of endpoint ${endpointName} failed, and switching back to ${previousConfig} ` +
        `did not complete (status ${after?.EndpointStatus ?? "gone"}, serving ${after?.EndpointConfigName ?? "nothing"}` +
        `${after?.FailureReason ? `, FailureReason: ${after.FailureReason}` : ""})`,
      1,
      `restore it by hand: aws sagemaker update-endpoint --endpoint-name ${endpointName} --endpoint-config-name ${previousConfig}`,
    );
  }
}

interface Resource {
  name: string;
  arn: string;
  created: number;
}

/**
 * Deletes this endpoint's endpoint configs and models (found by name prefix, confirmed by tag)
 * beyond the `keep` newest, never the `protect`ed configs (serving, previous) nor their models.
 */
async function cleanup(
  client: SageMakerClient,
  settings: SageMakerSettings,
  protect: (string | null)[],
  call: AwsCaller,
  reporter: Reporter,
): Promise<{ endpointConfigs: string[]; models: string[] }> {
  const endpointName = settings.endpointName;
  const protectedConfigs = protect.filter((name): name is string => name !== null);
  const configs = await tagged(client, "config", endpointName, call);
  const keptConfigs = new Set([
    ...protectedConfigs,
    ...configs.slice(0, settings.keep).map((c) => c.name),
  ]);
  const keptModels = new Set(keptConfigs);
  for (const config of protectedConfigs) {
    const described = await call(`DescribeEndpointConfig ${config}`, () =>
      client.send(new DescribeEndpointConfigCommand({ EndpointConfigName: config })),
    );
    for (const variant of described.ProductionVariants ?? []) {
      if (variant.ModelName) keptModels.add(variant.ModelName);
    }
  }
  const models = await tagged(client, "model", endpointName, call);
  // The newest models too: one may belong to a deployment whose config does not exist yet.
  for (const model of models.slice(0, settings.keep)) keptModels.add(model.name);

  const deleted = { endpointConfigs: [] as string[], models: [] as string[] };
  for (const config of configs.filter((c) => !keptConfigs.has(c.name))) {
    await call(`DeleteEndpointConfig ${config.name}`, () =>
      client.send(new DeleteEndpointConfigCommand({ EndpointConfigName: config.name })),
    );
    deleted.endpointConfigs.push(config.name);
  }
  for (const model of models.filter((m) => !keptModels.has(m.name))) {
    await call(`DeleteModel ${model.name}`, () =>
      client.send(new DeleteModelCommand({ ModelName: model.name })),
    );
    deleted.models.push(model.name);
  }
  if (deleted.endpointConfigs.length + deleted.models.length > 0) {
    reporter.info(
      `deleted ${deleted.endpointConfigs.length} old endpoint configs and ${deleted.models.length} old models of ${endpointName}`,
    );
  }
  return deleted;
}

/** This endpoint's configs or models, newest first: name prefix, then the tag to be sure. */
async function tagged(
  client: SageMakerClient,
  kind: "config" | "model",
  endpointName: string,
  call: AwsCaller,
): Promise<Resource[]> {
  const found: Resource[] = [];
  let token: string | undefined;
  do {
    const page = await call(kind === "config" ? "ListEndpointConfigs" : "ListModels", async () => {
      const query = {
        NameContains: endpointName,
        SortBy: "CreationTime",
        SortOrder: "Descending",
        NextToken: token,
      } as const;
      if (kind === "config") {
        const out = await client.send(new ListEndpointConfigsCommand(query));
        return {
          next: out.NextToken,
          items: (out.EndpointConfigs ?? []).map((c) => ({
            name: c.EndpointConfigName ?? "",
            arn: c.EndpointConfigArn ?? "",
            created: c.CreationTime?.getTime() ?? 0,
          })),
        };
      }
      const out = await client.send(new ListModelsCommand(query));
      return {
        next: out.NextToken,
        items: (out.Models ?? []).map((m) => ({
          name: m.ModelName ?? "",
          arn: m.ModelArn ?? "",
          created: m.CreationTime?.getTime() ?? 0,
        })),
      };
    });
    found.push(...page.items.filter((item) => item.name.startsWith(`${endpointName}-`)));
    token = page.next;
  } while (token);

  const ours: Resource[] = [];
  for (const resource of found) {
    const tags = await call(`ListTags ${resource.arn}`, () =>
      client.send(new ListTagsCommand({ ResourceArn: resource.arn })),
    );
    if ((tags.Tags ?? []).some((t) => t.Key === ENDPOINT_TAG && t.Value === endpointName)) {
      ours.push(resource);
    }
  }
  return ours.sort((a, b) => b.created - a.created);
}

type AwsCaller = <T>(what: string, send: () => Promise<T>) => Promise<T>;

/** Wraps AWS calls so a failure names the call, the endpoint and what to check. */
function awsCaller(endpointName: string): AwsCaller {
  return async (what, send) => {
    try {
      return await send();
    } catch (error) {
      throw awsFailure(endpointName, what, error);
    }
  };
}

function awsFailure(endpointName: string, what: string, error: unknown): PipelineError {
  const e = error as Error;
  const denied = /AccessDenied|UnauthorizedOperation|NotAuthorized/i.test(`${e.name} ${e.message}`);
  return new PipelineError(
    `SageMaker deployment to ${endpointName}: ${what} failed: ${e.name}: ${e.message}`,
    1,
    denied
      ? "the AWS credentials need sagemaker:* on the endpoint's resources, s3:PutObject on the model data prefix and iam:PassRole on the execution role"
      : "a failed deployment never deletes the endpoint's previous config; fix the cause above and promote again",
  );
}

/**
 * Requests and answers as JSON Lines in S3, for the drift checks. JSON content types are captured
 * as text rather than base64, so the files can be read without decoding (both are loaded).
 */
function dataCaptureConfig(capture: NonNullable<SageMakerSettings["dataCapture"]>) {
  return {
    EnableCapture: true,
    InitialSamplingPercentage: capture.percent,
    DestinationS3Uri: capture.destination,
    CaptureOptions: [{ CaptureMode: "Input" as const }, { CaptureMode: "Output" as const }],
    CaptureContentTypeHeader: { JsonContentTypes: ["application/json"] },
  };
}
