/**
 * The CDK stack, checked against its synthesized CloudFormation template (no AWS account):
 * who may assume each role, what each role may do, the run store's protections, the GPU
 * compute environment, the outputs the README maps to repository variables, and cdk-nag.
 */
import { App, Stack } from "aws-cdk-lib";
import { Annotations, Match, Template } from "aws-cdk-lib/assertions";
import * as iam from "aws-cdk-lib/aws-iam";
import { AwsSolutionsChecks } from "cdk-nag";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, it } from "vitest";
import { GITHUB_VARIABLES, outputKey } from "../../infra/github-variables.ts";
import { addMlopsStack, type MlopsStack } from "../../infra/mlops-stack.ts";
import { SAGEMAKER_DEPLOY_ACTIONS } from "../../infra/sagemaker-serving.ts";

type Json = Record<string, unknown>;
interface Statement {
  Effect: "Allow" | "Deny";
  Action: string | string[];
  Resource: unknown;
  Condition?: Json;
  Sid?: string;
}

let stack: MlopsStack;
let template: Template;
let resources: Record<string, Json>;

beforeAll(() => {
  const app = new App({ context: { githubRepository: "acme/shop-recs" } });
  stack = addMlopsStack(app);
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Json>;
});

const logicalId = (construct: IConstruct): string =>
  Stack.of(construct).getLogicalId(construct.node.defaultChild as iam.CfnRole);

/** The role's trust policy statement (one per role here). */
function trust(role: iam.Role): Statement {
  const props = resources[logicalId(role)]?.Properties as Json;
  const statements = (props.AssumeRolePolicyDocument as { Statement: Statement[] }).Statement;
  expect(statements).toHaveLength(1);
  return statements[0]!;
}

/** Every statement of every policy attached to the role, with resources flattened to text. */
function statements(role: iam.Role): (Statement & { actions: string[]; text: string })[] {
  const id = logicalId(role);
  return Object.values(resources)
    .filter((r) => r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy")
    .filter((r) => JSON.stringify((r.Properties as Json).Roles ?? []).includes(`"${id}"`))
    .flatMap((r) => ((r.Properties as Json).PolicyDocument as { Statement: Statement[] }).Statement)
    .map((s) => ({
      ...s,
      actions: [s.Action].flat(),
      text: JSON.stringify(s.Resource),
    }));
}

const allowed = (role: iam.Role) => statements(role).filter((s) => s.Effect === "Allow");

describe("trust: which GitHub jobs may assume which role", () => {
  it("every role trusts the OIDC provider with audience sts.amazonaws.com", () => {
    for (const role of [stack.roles.pipeline, stack.roles.deploy, stack.roles.images]) {
      const statement = trust(role);
      expect(statement.Action).toBe("sts:AssumeRoleWithWebIdentity");
      expect(JSON.stringify(statement)).toContain('"Federated"');
      expect(statement.Condition?.StringEquals).toMatchObject({
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
      });
    }
    template.hasResourceProperties("AWS::IAM::OIDCProvider", {
      Url: "https://token.actions.githubusercontent.com",
      ClientIdList: ["sts.amazonaws.com"],
    });
  });

  it("pipeline role: any ref of this repository (pull requests too), nothing else", () => {
    const condition = trust(stack.roles.pipeline).Condition!;
    expect(condition.StringLike).toEqual({
      "token.actions.githubusercontent.com:sub": "repo:acme/shop-recs:*",
    });
  });

  it("deploy role: only jobs in the production environment", () => {
    const condition = trust(stack.roles.deploy).Condition!;
    expect(condition.StringLike).toBeUndefined();
    expect(condition.StringEquals).toMatchObject({
      "token.actions.githubusercontent.com:sub": "repo:acme/shop-recs:environment:production",
    });
  });

  it("images role: only jobs on main", () => {
    const condition = trust(stack.roles.images).Condition!;
    expect(condition.StringLike).toBeUndefined();
    expect(condition.StringEquals).toMatchObject({
      "token.actions.githubusercontent.com:sub": "repo:acme/shop-recs:ref:refs/heads/main",
    });
  });
});

describe("permissions", () => {
  it("pipeline role: no SageMaker, no ECR push, no registry or model-data writes", () => {
    const allow = allowed(stack.roles.pipeline);
    expect(allow.flatMap((s) => s.actions).filter((a) => /^(sagemaker|ecr):/.test(a))).toEqual([]);
    for (const s of allow.filter((s) => s.actions.some((a) => /^s3:(Put|Delete)/.test(a)))) {
      expect(s.text).not.toMatch(/registry|sagemaker-models/);
    }
    expect(allow.flatMap((s) => s.actions)).not.toContain("*");
  });

  it("pipeline role and Batch job role: an explicit Deny on writes to registry/ and sagemaker-models/", () => {
    for (const role of [stack.roles.pipeline, stack.batch.jobRole]) {
      const deny = statements(role).filter((s) => s.Effect === "Deny");
      expect(deny).toHaveLength(1);
      expect(deny[0]!.actions).toEqual(
        expect.arrayContaining(["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"]),
      );
      expect(deny[0]!.text).toContain("/store/registry/*");
      expect(deny[0]!.text).toContain("/store/sagemaker-models/*");
    }
  });

  it("pipeline role: runs and code read/write, registry and data capture read, Batch on its queue and job definition", () => {
    const allow = allowed(stack.roles.pipeline);
    const write = allow.find((s) => s.actions.includes("s3:PutObject"))!;
    expect(write.text).toContain("/store/runs/*");
    expect(write.text).toContain("/store/code/*");
    const read = allow.find((s) => s.actions.includes("s3:GetObject"))!;
    expect(read.text).toContain("/store/registry/*");
    expect(read.text).toContain("/store/datacapture/*");
    expect(write.text).not.toContain("/store/datacapture/*");
    const list = allow.find((s) => s.actions.includes("s3:ListBucket"))!;
    expect(list.Condition).toEqual({
      StringLike: {
        "s3:prefix": ["store/runs/*", "store/code/*", "store/registry/*", "store/datacapture/*"],
      },
    });
    const submit = allow.find((s) => s.actions.includes("batch:SubmitJob"))!;
    expect(submit.actions).toContain("batch:RegisterJobDefinition");
    expect(submit.text).toContain(logicalId(stack.batch.queue));
    expect(submit.text).toContain("job-definition/mlops-session-recs-train");
    const pass = allow.find((s) => s.actions.includes("iam:PassRole"))!;
    expect(pass.Condition).toEqual({
      StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" },
    });
    expect(pass.text).toContain(logicalId(stack.batch.jobRole));
    expect(pass.text).toContain(logicalId(stack.batch.executionRole));
    expect(pass.text).not.toContain(logicalId(stack.sagemaker.executionRole));
    const logs = allow.find((s) => s.actions.includes("logs:GetLogEvents"))!;
    expect(logs.text).toContain("log-group:/aws/batch/job:log-stream:*");
  });

  it("deploy role: the SageMaker calls promote makes, on this endpoint's resources", () => {
    const allow = allowed(stack.roles.deploy);
    const deploy = allow.find((s) => s.actions.includes("sagemaker:CreateEndpoint"))!;
    expect(deploy.actions).toEqual(expect.arrayContaining(SAGEMAKER_DEPLOY_ACTIONS));
    expect(deploy.text).toContain(":endpoint/mlops-session-recs");
    expect(deploy.text).toContain(":endpoint-config/mlops-session-recs*");
    expect(deploy.text).toContain(":model/mlops-session-recs*");
    expect(deploy.text).not.toContain('"*"');
    const actions = allow.flatMap((s) => s.actions);
    expect(actions).toEqual(
      expect.arrayContaining([
        "sagemaker:ListModels",
        "sagemaker:ListEndpointConfigs",
        "sagemaker:InvokeEndpoint",
      ]),
    );
  });

  it("deploy role: PassRole of the SageMaker execution role only, to SageMaker only", () => {
    const pass = allowed(stack.roles.deploy).filter((s) => s.actions.includes("iam:PassRole"));
    expect(pass).toHaveLength(1);
    expect(pass[0]!.Resource).toEqual({
      "Fn::GetAtt": [logicalId(stack.sagemaker.executionRole), "Arn"],
    });
    expect(pass[0]!.Condition).toEqual({
      StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" },
    });
  });

  it("deploy role: writes the registry and model data, reads runs and the serving model data", () => {
    const allow = allowed(stack.roles.deploy);
    const write = allow.find((s) => s.actions.includes("s3:PutObject"))!;
    expect(write.text).toContain("/store/registry/*");
    expect(write.text).toContain("/store/sagemaker-models/*");
    // Promote checks the serving model.tar.gz's sha256 (HeadObject needs s3:GetObject).
    const read = allow.find((s) => s.actions.includes("s3:GetObject"))!;
    expect(read.text).toContain("/store/runs/*");
    expect(read.text).toContain("/store/sagemaker-models/*");
    expect(statements(stack.roles.deploy).filter((s) => s.Effect === "Deny")).toEqual([]);
  });

  it("SageMaker execution role: reads the model data, writes Data Capture, nothing else of the store", () => {
    const allow = allowed(stack.sagemaker.executionRole);
    const write = allow.find((s) => s.actions.includes("s3:PutObject"))!;
    expect(write.text).toContain("/store/datacapture/*");
    expect(write.text).not.toContain("/store/runs/*");
    expect(write.text).not.toContain("/store/registry/*");
    const read = allow.find((s) => s.actions.includes("s3:GetObject"))!;
    expect(read.text).toContain("/store/sagemaker-models/*");
  });

  it("images role: push to the two repositories, nothing else", () => {
    const allow = allowed(stack.roles.images);
    const actions = new Set(allow.flatMap((s) => s.actions));
    expect([...actions].every((a) => a.startsWith("ecr:"))).toBe(true);
    expect(actions).toContain("ecr:PutImage");
    expect(actions).toContain("ecr:GetAuthorizationToken");
  });

  it("Batch execution role: secrets only under the prefix", () => {
    const allow = allowed(stack.batch.executionRole);
    const secrets = allow.find((s) => s.actions.includes("secretsmanager:GetSecretValue"))!;
    expect(secrets.text).toContain(":secret:mlops/*");
  });
});

describe("run store bucket", () => {
  it("is encrypted, private, versioned, SSL-only and retained", () => {
    const id = logicalId(stack.store.bucket);
    const bucket = resources[id]!;
    expect(bucket.DeletionPolicy).toBe("Retain");
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          { ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: "Enabled" },
      LoggingConfiguration: { LogFilePrefix: "run-store/" },
    });
    expect(JSON.stringify(bucket.Properties)).toContain("NoncurrentVersionExpiration");
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Deny",
            Action: "s3:*",
            Principal: { AWS: "*" },
            Condition: { Bool: { "aws:SecureTransport": "false" } },
          }),
        ]),
      },
    });
  });
});

describe("Batch", () => {
  it("a managed GPU compute environment that scales to zero", () => {
    template.hasResourceProperties("AWS::Batch::ComputeEnvironment", {
      Type: "managed",
      ComputeResources: Match.objectLike({
        Type: "EC2",
        MinvCpus: 0,
        MaxvCpus: 16,
        InstanceTypes: ["g4dn", "g5"],
        Ec2Configuration: [{ ImageType: "ECS_AL2023_NVIDIA" }],
      }),
    });
    template.hasResourceProperties("AWS::Batch::JobQueue", { JobQueueName: "mlops-gpu-training" });
    template.resourceCountIs("AWS::EC2::NatGateway", 0);
    template.hasResourceProperties("AWS::EC2::VPCEndpoint", { VpcEndpointType: "Gateway" });
  });
});

describe("ECR", () => {
  it("two retained, scanned, immutable repositories with an expiry rule", () => {
    template.resourceCountIs("AWS::ECR::Repository", 2);
    for (const name of ["mlops-train", "mlops-serve"]) {
      template.hasResource("AWS::ECR::Repository", {
        DeletionPolicy: "Retain",
        Properties: Match.objectLike({
          RepositoryName: name,
          ImageScanningConfiguration: { ScanOnPush: true },
          ImageTagMutability: "IMMUTABLE",
          LifecyclePolicy: Match.objectLike({
            LifecyclePolicyText: Match.stringLikeRegexp('"countNumber":30'),
          }),
        }),
      });
    }
  });
});

describe("outputs", () => {
  it("one per repository variable, named for it", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Description: string }>;
    for (const variable of GITHUB_VARIABLES) {
      expect(outputs[outputKey(variable)]?.Description, variable).toMatch(
        new RegExp(`^${variable}: `),
      );
    }
    expect(Object.keys(outputs).sort()).toEqual(GITHUB_VARIABLES.map(outputKey).sort());
    template.hasOutput("MlopsS3Store", {
      Value: { "Fn::Join": ["", ["s3://", { Ref: logicalId(stack.store.bucket) }, "/store"]] },
    });
    template.hasOutput("AwsRegion", { Value: { Ref: "AWS::Region" } });
    template.hasOutput("MlopsSagemakerEndpoint", { Value: "mlops-session-recs" });
  });
});

describe("cdk-nag (AwsSolutions)", () => {
  it("reports nothing unacknowledged", () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    expect(report.success).toBe(true);
    const annotations = Annotations.fromStack(stack);
    expect(annotations.findError("*", Match.stringLikeRegexp("AwsSolutions.*"))).toEqual([]);
    expect(annotations.findWarning("*", Match.stringLikeRegexp("AwsSolutions.*"))).toEqual([]);
  });

  it("does report a wildcard nobody acknowledged (the check is live)", () => {
    const app = new App();
    const other = new Stack(app, "Other");
    const role = new iam.Role(other, "Broad", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ["s3:*"], resources: ["*"] }));
    const report = new AwsSolutionsChecks().validateScope(other);
    expect(report.success).toBe(false);
    expect(report.violations.map((v) => v.ruleName)).toContain("AwsSolutions-IAM5[Action::s3:*]");
  });
});

describe("no secrets", () => {
  it("the template holds no account id, access key or private key", () => {
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toMatch(/(?<!\d)\d{12}(?!\d)/);
    expect(text).not.toMatch(/\b(AKIA|ASIA)[A-Z0-9]{16}\b/);
    expect(text).not.toMatch(/PRIVATE KEY|aws_secret_access_key/i);
    expect(text).toContain('"Ref":"AWS::AccountId"');
  });
});
