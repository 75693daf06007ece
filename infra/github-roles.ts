/**
 * The three roles GitHub Actions jobs assume, one per trust level (see github-oidc.ts for who may
 * assume which). What each may do follows from what its jobs run:
 *
 * - pipeline: upload, transform, train, evaluate, model card, pull requests included. Reads and
 *   writes runs and code packages, reads the registry (evaluate compares with the champion),
 *   runs training on Batch. Never writes the registry or model data (explicit Deny), never
 *   touches SageMaker.
 * - deploy:   the promote job only, in the `production` environment. SageMaker on the
 *   endpoint's resources, the registry and model data.
 * - images:   the images workflow on main. Pushes the train and serve images.
 */
import { Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";
import type { BatchTraining } from "./batch-training.ts";
import { githubSubjects, type GithubOidc } from "./github-oidc.ts";
import type { ImageRepositories } from "./image-repositories.ts";
import { acknowledgeUnscopedActions, acknowledgeWildcardResources } from "./nag-suppressions.ts";
import type { RunStoreBucket } from "./run-store-bucket.ts";
import type { SageMakerServing } from "./sagemaker-serving.ts";

/** Everything the train stage calls on Batch (pipeline/compute/batch*.ts). */
export const BATCH_SUBMIT_ACTIONS = ["batch:RegisterJobDefinition", "batch:SubmitJob"];
/** Describe calls have no resource-level permissions. */
export const BATCH_DESCRIBE_ACTIONS = ["batch:DescribeJobDefinitions", "batch:DescribeJobs"];

export interface GithubRolesProps {
  githubRepository: string;
  oidc: GithubOidc;
  store: RunStoreBucket;
  batch: BatchTraining;
  sagemaker: SageMakerServing;
  images: ImageRepositories;
}

export class GithubRoles extends Construct {
  readonly pipeline: iam.Role;
  readonly deploy: iam.Role;
  readonly images: iam.Role;

  constructor(scope: Construct, id: string, props: GithubRolesProps) {
    super(scope, id);
    const subjects = githubSubjects(props.githubRepository);
    const { store, batch } = props;

    // --- pipeline role --------------------------------------------------------------------
    this.pipeline = props.oidc.role(
      "PipelineRole",
      { match: "like", value: subjects.anyRef },
      "MLOps pipeline stages: run store, Batch training",
    );
    // datacapture: the endpoint's traffic, which the drift check (drift.yml) loads.
    store.grantList(this.pipeline, ["runs", "code", "registry", "datacapture"]);
    store.grantRead(
      this.pipeline,
      ["runs", "code", "registry", "datacapture"],
      "ReadRunsCodeRegistry",
    );
    store.grantWrite(this.pipeline, ["runs", "code"], "WriteRunsAndCode");
    store.denyWrite(this.pipeline, ["registry", "sagemaker-models"]);
    const add = (role: iam.Role, statement: iam.PolicyStatement) =>
      role.addToPrincipalPolicy(statement);
    add(
      this.pipeline,
      new iam.PolicyStatement({
        sid: "SubmitTrainingJobs",
        actions: BATCH_SUBMIT_ACTIONS,
        resources: [batch.queue.jobQueueArn, ...batch.jobDefinitionArns],
      }),
    );
    acknowledgeWildcardResources(
      this.pipeline,
      batch.jobDefinitionArns,
      "Every revision (:<n>) of the pipeline's own job definition: the train stage registers a new revision whenever the image or resources change",
    );
    acknowledgeUnscopedActions(this.pipeline, BATCH_DESCRIBE_ACTIONS);
    add(
      this.pipeline,
      new iam.PolicyStatement({
        sid: "DescribeTrainingJobs",
        actions: BATCH_DESCRIBE_ACTIONS,
        resources: ["*"],
      }),
    );
    // Job ARNs carry ids Batch picks at submit; the job's tags (run id) are set at submit too.
    const jobsArn = Stack.of(this).formatArn({
      service: "batch",
      resource: "job",
      resourceName: "*",
    });
    add(
      this.pipeline,
      new iam.PolicyStatement({
        sid: "ManageTrainingJobs",
        actions: ["batch:TerminateJob", "batch:TagResource"],
        resources: [jobsArn],
      }),
    );
    acknowledgeWildcardResources(
      this.pipeline,
      [jobsArn],
      "Batch assigns job ids at SubmitJob, so TerminateJob (cancel on timeout) and TagResource (tags at submit) cannot name a job in advance",
    );
    add(
      this.pipeline,
      new iam.PolicyStatement({
        sid: "PassTrainingJobRoles",
        actions: ["iam:PassRole"],
        resources: [batch.jobRole.roleArn, batch.executionRole.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": "ecs-tasks.amazonaws.com" } },
      }),
    );
    add(
      this.pipeline,
      new iam.PolicyStatement({
        sid: "ReadTrainingLogs",
        actions: ["logs:GetLogEvents"],
        resources: [`${batch.logGroupArn}:log-stream:*`],
      }),
    );
    acknowledgeWildcardResources(
      this.pipeline,
      [`${batch.logGroupArn}:log-stream:*`],
      "Log streams of the Batch log group only (the job's output is streamed into the workflow log); ECS names one per job at run time",
    );

    // --- deploy role ----------------------------------------------------------------------
    this.deploy = props.oidc.role(
      "DeployRole",
      { match: "equals", value: subjects.production },
      "MLOps promote job (production environment): registry, SageMaker endpoint",
    );
    store.grantList(this.deploy, ["runs", "registry", "sagemaker-models"]);
    // sagemaker-models: the serving model.tar.gz is checked against its recorded sha256 first.
    store.grantRead(
      this.deploy,
      ["runs", "registry", "sagemaker-models"],
      "ReadRunsRegistryModels",
    );
    // runs: promote's own stage record; registry and model data: what only promote writes.
    store.grantWrite(this.deploy, ["runs", "registry", "sagemaker-models"], "WritePromotion");
    props.sagemaker.grantDeploy(this.deploy);

    // --- images role ----------------------------------------------------------------------
    this.images = props.oidc.role(
      "ImagesRole",
      { match: "equals", value: subjects.main },
      "MLOps images workflow on main: pushes the train and serve images",
    );
    props.images.grantPush(this.images);
    acknowledgeUnscopedActions(this.images, ["ecr:GetAuthorizationToken"]);
  }
}
