/**
 * The CDK app's context: validation with errors that name the key, the values that must agree
 * with the pipeline's own defaults, the variants (existing OIDC provider and bucket, another
 * prefix), and the outputs -> `gh variable set` mapping.
 */
import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { describe, expect, it } from "vitest";
import { DEFAULT_LOG_GROUP } from "../../pipeline/config/batch-settings.ts";
import { SETTINGS } from "../../pipeline/config/settings.ts";
import { HISTORY_PREFIX, PRODUCTION_KEY } from "../../pipeline/store/registry.ts";
import { deploymentName } from "../../pipeline/promote/sagemaker.ts";
import { GITHUB_VARIABLES, ghVariableCommands, outputKey } from "../../infra/github-variables.ts";
import { addMlopsStack } from "../../infra/mlops-stack.ts";
import { deploymentNamePrefix } from "../../infra/sagemaker-serving.ts";
import { PIPELINE_DEFAULTS, readInfraSettings } from "../../infra/settings.ts";

const read = (context: Record<string, unknown>) => readInfraSettings((key) => context[key]);

describe("context validation", () => {
  it("requires githubRepository and names the flag", () => {
    expect(() => read({})).toThrow(/context "githubRepository" is required.*-c githubRepository=/);
    expect(() => read({ githubRepository: "  " })).toThrow(/githubRepository/);
  });

  it.each(["acme", "acme/", "/shop", "acme/shop/x", "ac me/shop", "acme/shop recs"])(
    "rejects the malformed githubRepository %j with a message naming it",
    (value) => {
      expect(() => read({ githubRepository: value })).toThrow(
        /context "githubRepository" must be owner\/name/,
      );
    },
  );

  it("throws from the app too, before any construct exists", () => {
    const app = new App({ context: { githubRepository: "not a repo" } });
    expect(() => addMlopsStack(app)).toThrow(/githubRepository/);
    expect(app.node.children).toHaveLength(0);
  });

  it("fills in defaults", () => {
    expect(read({ githubRepository: "acme/shop-recs" })).toEqual({
      githubRepository: "acme/shop-recs",
      prefix: "mlops",
      storePrefix: "store",
      maxGpuVcpus: 16,
      gpuInstanceTypes: ["g4dn", "g5"],
      endpointName: "mlops-session-recs",
      jobDefinitionName: "mlops-session-recs-train",
      keepImages: 30,
    });
  });

  it("infra/cdk.json runs the app with tsx and repeats the code's defaults", () => {
    const cdkJson = JSON.parse(
      readFileSync(new URL("../../infra/cdk.json", import.meta.url), "utf8"),
    ) as { app: string; context: Record<string, unknown> };
    expect(cdkJson.app).toBe("npx tsx app.ts");
    const fromJson = read({ ...cdkJson.context, githubRepository: "a/b" });
    expect(fromJson).toEqual(read({ githubRepository: "a/b" }));
  });

  it("parses -c strings and cdk.json values alike", () => {
    const settings = read({
      githubRepository: "acme/shop.recs_2",
      prefix: "recs",
      storePrefix: "/team/a/",
      maxGpuVcpus: "32",
      gpuInstanceTypes: "g5.xlarge, g6",
      existingOidcProviderArn:
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
      existingBucketName: "acme-runs",
    });
    expect(settings).toMatchObject({
      prefix: "recs",
      storePrefix: "team/a",
      maxGpuVcpus: 32,
      gpuInstanceTypes: ["g5.xlarge", "g6"],
      existingBucketName: "acme-runs",
    });
    expect(
      read({ githubRepository: "a/b", gpuInstanceTypes: ["p3"], maxGpuVcpus: 8 }),
    ).toMatchObject({ gpuInstanceTypes: ["p3"], maxGpuVcpus: 8 });
    // "/" is the bucket's root ("" would be an unset value, hence the default).
    expect(read({ githubRepository: "a/b", storePrefix: "/" }).storePrefix).toBe("");
    expect(read({ githubRepository: "a/b", storePrefix: "" }).storePrefix).toBe("store");
  });

  it.each([
    ["prefix", "Mlops", /context "prefix" must be/],
    ["storePrefix", "a/../b", /context "storePrefix"/],
    ["maxGpuVcpus", "16.5", /context "maxGpuVcpus" must be an integer/],
    ["maxGpuVcpus", "0", /context "maxGpuVcpus"/],
    ["gpuInstanceTypes", "m5.large", /context "gpuInstanceTypes" must be .*GPU/],
    ["gpuInstanceTypes", ",", /context "gpuInstanceTypes" must name at least one/],
    ["existingOidcProviderArn", "arn:aws:iam::1:oidc-provider/x", /existingOidcProviderArn/],
    ["existingBucketName", "Bad_Bucket", /context "existingBucketName"/],
    ["endpointName", "bad_name", /context "endpointName"/],
    ["keepImages", "-1", /context "keepImages"/],
  ])("rejects %s=%j", (key, value, message) => {
    expect(() => read({ githubRepository: "a/b", [key]: value })).toThrow(message);
  });
});

describe("agreement with the pipeline", () => {
  it("defaults are the pipeline's own", () => {
    const settingDefault = (key: string) => SETTINGS.find((s) => s.key === key)?.default;
    expect(PIPELINE_DEFAULTS.endpointName).toBe(settingDefault("promote.sagemaker.endpoint"));
    expect(PIPELINE_DEFAULTS.jobDefinitionName).toBe(settingDefault("compute.batch.jobDefinition"));
    expect(PIPELINE_DEFAULTS.batchLogGroup).toBe(DEFAULT_LOG_GROUP);
    // The folders the roles are scoped to are the ones the registry writes.
    expect(PRODUCTION_KEY.startsWith("registry/")).toBe(true);
    expect(HISTORY_PREFIX.startsWith("registry/")).toBe(true);
  });

  it("the deploy role's name prefix covers every model and config name promote makes", () => {
    const endpoints = [
      "mlops-session-recs",
      "a",
      "Recs-Prod",
      "x".repeat(63),
      "abc-".repeat(15) + "z",
    ];
    const runs = ["20261123-083000-1a2b3c", "pr-42.retry_1", "r".repeat(64)];
    for (const endpoint of endpoints) {
      for (const run of runs) {
        const name = deploymentName(endpoint, run, new Date("2026-11-23T08:30:00.123Z"));
        expect(name.toLowerCase().startsWith(deploymentNamePrefix(endpoint.toLowerCase()))).toBe(
          true,
        );
      }
    }
  });
});

describe("variants", () => {
  it("imports an existing OIDC provider and bucket, and takes another prefix", () => {
    const app = new App({
      context: {
        githubRepository: "acme/shop-recs",
        prefix: "recs",
        storePrefix: "/",
        existingOidcProviderArn:
          "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
        existingBucketName: "acme-runs",
      },
    });
    const stack = addMlopsStack(app);
    const template = Template.fromStack(stack);
    template.resourceCountIs("AWS::IAM::OIDCProvider", 0);
    // Only the access-log bucket is new.
    template.resourceCountIs("AWS::S3::Bucket", 1);
    template.hasOutput("MlopsS3Store", { Value: "s3://acme-runs" });
    template.hasResourceProperties("AWS::ECR::Repository", { RepositoryName: "recs-train" });
    const text = JSON.stringify(template.toJSON());
    expect(text).toContain(":::acme-runs/runs/*");
    expect(text).toContain('"s3:prefix":["runs/*","code/*","registry/*","datacapture/*"]');
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});

describe("an endpoint name with capitals", () => {
  it("is allowed in its own spelling and in the lowercase SageMaker puts in ARNs", () => {
    const app = new App({
      context: { githubRepository: "acme/shop-recs", endpointName: "Recs-Prod" },
    });
    const stack = addMlopsStack(app);
    const text = JSON.stringify(Template.fromStack(stack).toJSON());
    for (const name of ["recs-prod", "Recs-Prod"]) {
      expect(text).toContain(`:endpoint/${name}"`);
      expect(text).toContain(`:model/${name}*"`);
      expect(text).toContain(`:endpoint-config/${name}*"`);
    }
    expect(new AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  });
});

describe("GitHub variables from the deployed stack's outputs", () => {
  it("maps each variable to its output key", () => {
    expect(outputKey("AWS_ROLE_ARN")).toBe("AwsRoleArn");
    expect(outputKey("MLOPS_S3_STORE")).toBe("MlopsS3Store");
    expect(outputKey("MLOPS_SAGEMAKER_ROLE_ARN")).toBe("MlopsSagemakerRoleArn");
    expect(new Set(GITHUB_VARIABLES.map(outputKey)).size).toBe(GITHUB_VARIABLES.length);
  });

  it("prints gh variable set commands from cdk deploy --outputs-file", () => {
    const outputs = Object.fromEntries(
      GITHUB_VARIABLES.map((v) => [
        outputKey(v),
        v === "MLOPS_S3_STORE" ? "s3://b/store" : `v-${v}`,
      ]),
    );
    const commands = ghVariableCommands({ "mlops-session-recs": outputs }, "acme/shop-recs");
    expect(commands).toHaveLength(GITHUB_VARIABLES.length);
    expect(commands[0]).toBe(
      "gh variable set AWS_ROLE_ARN --repo acme/shop-recs --body v-AWS_ROLE_ARN",
    );
    expect(commands).toContain(
      "gh variable set MLOPS_S3_STORE --repo acme/shop-recs --body s3://b/store",
    );
    expect(() => ghVariableCommands({ other: {} })).toThrow(/AwsRoleArn/);
    const { AwsRegion: _, ...partial } = outputs;
    expect(() => ghVariableCommands({ s: partial })).toThrow(/AwsRegion/);
  });
});
