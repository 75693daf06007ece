/**
 * The one stack of the pipeline's AWS side: run store, GitHub OIDC roles, Batch GPU training,
 * ECR repositories and the SageMaker execution role. Environment-agnostic (no lookups): it
 * synthesizes without an AWS account, and `cdk deploy` puts it in the CLI's account and region.
 */
import { Aws, CfnOutput, Stack, Tags, Validations, type App, type StackProps } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import type { Construct } from "constructs";
import { BatchTraining } from "./batch-training.ts";
import { GithubOidc } from "./github-oidc.ts";
import { GithubRoles } from "./github-roles.ts";
import { GITHUB_VARIABLES, outputKey, type GithubVariable } from "./github-variables.ts";
import { ImageRepositories } from "./image-repositories.ts";
import { accessLogsBucket, RunStoreBucket } from "./run-store-bucket.ts";
import { SageMakerServing } from "./sagemaker-serving.ts";
import { PIPELINE_DEFAULTS, readInfraSettings, type InfraSettings } from "./settings.ts";

export interface MlopsStackProps extends StackProps {
  settings: InfraSettings;
}

export class MlopsStack extends Stack {
  readonly settings: InfraSettings;
  readonly store: RunStoreBucket;
  readonly images: ImageRepositories;
  readonly batch: BatchTraining;
  readonly sagemaker: SageMakerServing;
  readonly roles: GithubRoles;

  constructor(scope: Construct, id: string, props: MlopsStackProps) {
    super(scope, id, props);
    const s = (this.settings = props.settings);

    const logs = accessLogsBucket(this, "AccessLogs");
    this.store = new RunStoreBucket(this, "RunStore", {
      storePrefix: s.storePrefix,
      existingBucketName: s.existingBucketName,
      accessLogsBucket: logs,
    });
    this.images = new ImageRepositories(this, "Images", {
      prefix: s.prefix,
      keepImages: s.keepImages,
    });
    this.batch = new BatchTraining(this, "Training", {
      prefix: s.prefix,
      jobDefinitionName: s.jobDefinitionName,
      logGroupName: PIPELINE_DEFAULTS.batchLogGroup,
      maxGpuVcpus: s.maxGpuVcpus,
      gpuInstanceTypes: s.gpuInstanceTypes,
      store: this.store,
      trainRepository: this.images.train,
      flowLogsBucket: logs,
    });
    this.sagemaker = new SageMakerServing(this, "Serving", {
      endpointName: s.endpointName,
      store: this.store,
      serveRepository: this.images.serve,
    });
    const oidc = new GithubOidc(this, "GithubOidc", {
      githubRepository: s.githubRepository,
      existingProviderArn: s.existingOidcProviderArn,
    });
    this.roles = new GithubRoles(this, "GithubRoles", {
      githubRepository: s.githubRepository,
      oidc,
      store: this.store,
      batch: this.batch,
      sagemaker: this.sagemaker,
      images: this.images,
    });

    const values: Record<GithubVariable, [value: string, what: string]> = {
      AWS_ROLE_ARN: [
        this.roles.pipeline.roleArn,
        "role of the pipeline's jobs (pull requests too)",
      ],
      AWS_DEPLOY_ROLE_ARN: [this.roles.deploy.roleArn, "role of the promote job (production)"],
      AWS_IMAGES_ROLE_ARN: [this.roles.images.roleArn, "role of the images workflow (main)"],
      AWS_REGION: [Aws.REGION, "region of everything here"],
      MLOPS_S3_STORE: [this.store.storeUrl, "the run store"],
      MLOPS_BATCH_QUEUE: [this.batch.queue.jobQueueName, "GPU job queue"],
      MLOPS_BATCH_JOB_DEFINITION: [s.jobDefinitionName, "job definition the roles allow"],
      MLOPS_BATCH_JOB_ROLE_ARN: [this.batch.jobRole.roleArn, "role of the training container"],
      MLOPS_BATCH_EXECUTION_ROLE_ARN: [
        this.batch.executionRole.roleArn,
        `ECS execution role (image pull, logs, secrets named ${this.batch.secretsPrefix}*)`,
      ],
      MLOPS_BATCH_IMAGE: [
        this.images.train.repositoryUri,
        "train image repository: the pipeline runs the tag of its checkout (pipeline images)",
      ],
      MLOPS_SAGEMAKER_IMAGE: [
        this.images.serve.repositoryUri,
        "serve image repository: the pipeline runs the tag of its checkout (pipeline images)",
      ],
      MLOPS_SAGEMAKER_ROLE_ARN: [this.sagemaker.executionRole.roleArn, "SageMaker execution role"],
      MLOPS_SAGEMAKER_ENDPOINT: [s.endpointName, "endpoint name the deploy role allows"],
    };
    for (const variable of GITHUB_VARIABLES) {
      const [value, what] = values[variable];
      new CfnOutput(this, outputKey(variable), {
        value,
        description: `${variable}: ${what} (GitHub repository variable)`,
      });
    }

    Tags.of(this).add("mlops:project", s.prefix);
  }
}

/**
 * CDK feature flags the stack is written for, set here (not only in cdk.json) so the tests
 * synthesize what `cdk deploy` deploys.
 */
const FEATURE_FLAGS = {
  // Access logs are delivered through a bucket policy, not the legacy LogDeliveryWrite ACL,
  // so both buckets keep ACLs disabled (BucketOwnerEnforced).
  "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": true,
} as const;

/**
 * Adds the stack to `app` with the settings from its context, and cdk-nag's AWS Solutions
 * checks as a validation plugin: a finding without a documented acknowledgment fails the synth.
 */
export function addMlopsStack(app: App): MlopsStack {
  for (const [flag, value] of Object.entries(FEATURE_FLAGS)) {
    if (app.node.tryGetContext(flag) === undefined) app.node.setContext(flag, value);
  }
  const settings = readInfraSettings((key) => app.node.tryGetContext(key));
  const stack = new MlopsStack(app, "MlopsStack", {
    settings,
    stackName: `${settings.prefix}-session-recs`,
    description: `MLOps session recommender: run store, Batch GPU training, ECR, SageMaker roles, GitHub OIDC roles for ${settings.githubRepository}`,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
