/**
 * promote → SageMaker with a model already in production: the registry's record of the serving
 * model.tar.gz (URL and sha256) reaches the check that runs before anything changes (recorded
 * AWS calls; the registry is a real folder store).
 */
import { join } from "node:path";
import { DescribeEndpointCommand, SageMakerClient } from "@aws-sdk/client-sagemaker";
import { HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { PipelineError } from "../../pipeline/errors.ts";
import type { EvaluateResult } from "../../pipeline/evaluate/stage.ts";
import { smokeSessionsKey } from "../../pipeline/evaluate/smoke-sessions.ts";
import { promoteRun } from "../../pipeline/promote/promote.ts";
import { readProduction, recordPromotion } from "../../pipeline/store/registry.ts";
import { decidePromotion } from "../../pipeline/promote/decision.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { writeStageRecord } from "../../pipeline/store/runs.ts";
import { writeTestArtifact } from "../helpers/model-artifact.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const sm = mockClient(SageMakerClient);
const s3 = mockClient(S3Client);
afterEach(() => {
  sm.reset();
  s3.reset();
});

const skus = Array.from({ length: 30 }, (_, i) => hex(`item${i}`));
const figure = (value: number) => ({
  value,
  n: 500,
  ci: { low: value - 0.01, high: value + 0.01, level: 0.95 },
});
const summary = (v: number) => ({
  hr20: { value: v, lower: v - 0.01, upper: v + 0.01 },
  mrr20: { value: v / 3, lower: v / 3 - 0.01, upper: v / 3 + 0.01 },
  examples: 500,
});

describe("promote to SageMaker over a model in production", () => {
  it("checks the serving model.tar.gz the registry recorded before touching anything", async () => {
    const dir = tempDir("promote-sm-");
    const store = new LocalStore(join(dir, "store"));
    const recorded = "ab".repeat(32);
    const servingUrl = "s3://recs-models/sagemaker/run-old/model.tar.gz";
    const gates = { passed: true, failedBlocking: [] };
    await recordPromotion(store, {
      runId: "run-old",
      deployment: {
        target: "sagemaker",
        endpoint: "recs",
        modelDataUrl: servingUrl,
        modelDataSha256: recorded,
      },
      metrics: summary(0.3),
      gates,
      decision: decidePromotion({ gates, challenger: summary(0.3), force: false, tolerance: 0 }),
    });
    // The candidate: a trained model, an evaluation that beat nothing in production yet.
    await writeTestArtifact(join(store.root, "runs", "run-new", "train", "model"), {
      skus,
      runId: "run-new",
    });
    await store.put(smokeSessionsKey("run-new"), JSON.stringify([[skus[1], skus[2]]]));
    await writeStageRecord(store, {
      runId: "run-new",
      stage: "evaluate",
      status: "succeeded",
      startedAt: "2026-11-30T10:00:00Z",
      finishedAt: "2026-11-30T10:00:00Z",
      seconds: 1,
      inputs: [],
      outputs: [],
      counts: {},
      versions: {},
      result: {
        report: {
          roles: { candidate: "hybrid", production: null },
          recommenders: [
            { name: "hybrid", metrics: { "hr@20": figure(0.35), "mrr@20": figure(0.12) } },
          ],
          comparisons: [],
        },
        gates: { passed: true, checks: [] },
        productionRunId: null,
      } as unknown as EvaluateResult,
    });
    const config = loadConfig({
      env: {
        MLOPS_STORE: store.root,
        MLOPS_PROMOTE_TARGET: "sagemaker",
        MLOPS_SAGEMAKER_IMAGE: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/recs-serve:1.0.0",
        MLOPS_SAGEMAKER_ROLE_ARN: "arn:aws:iam::123456789012:role/recs-sagemaker",
        MLOPS_SAGEMAKER_MODEL_DATA: "s3://recs-models/sagemaker",
        MLOPS_SAGEMAKER_ENDPOINT: "recs",
        MLOPS_SAGEMAKER_REGION: "eu-west-1",
      },
      cwd: dir,
    }).config;
    sm.on(DescribeEndpointCommand).resolves({
      EndpointName: "recs",
      EndpointStatus: "InService",
      EndpointConfigName: "recs-old",
    });
    s3.on(HeadObjectCommand).resolves({
      ChecksumSHA256: Buffer.from("cd".repeat(32), "hex").toString("base64"),
    });

    const error = await promoteRun({
      config,
      runId: "run-new",
      store,
      warehouse: () => Promise.reject(new Error("no warehouse needed")),
      reporter: silentReporter(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).message).toContain(
      `the model data of run run-old, in production, is not what was deployed: ${servingUrl}`,
    );
    expect(s3.commandCalls(HeadObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: "recs-models",
      Key: "sagemaker/run-old/model.tar.gz",
    });
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect((await readProduction(store))?.runId).toBe("run-old");
  });
});
