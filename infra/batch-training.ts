/**
 * Where `pipeline train --compute batch` runs: a managed AWS Batch compute environment of GPU
 * instances that scales to zero, its job queue, and the two roles a job definition names.
 *
 * The pipeline registers the job definition itself (pipeline/compute/batch-job-definition.ts,
 * a new revision only when the image or resources change), so none is created here; the roles
 * that may use it are scoped to its name.
 */
import { Stack, ArnFormat } from "aws-cdk-lib";
import * as batch from "aws-cdk-lib/aws-batch";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as ecr from "aws-cdk-lib/aws-ecr";
import type * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import {
  acknowledge,
  acknowledgeUnscopedActions,
  acknowledgeWildcardResources,
} from "./nag-suppressions.ts";
import type { RunStoreBucket } from "./run-store-bucket.ts";

export interface BatchTrainingProps {
  prefix: string;
  jobDefinitionName: string;
  logGroupName: string;
  maxGpuVcpus: number;
  /** Families (`g4dn`) or types (`g4dn.xlarge`). */
  gpuInstanceTypes: string[];
  store: RunStoreBucket;
  trainRepository: ecr.IRepository;
  flowLogsBucket: s3.IBucket;
}

export class BatchTraining extends Construct {
  readonly vpc: ec2.Vpc;
  readonly computeEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly queue: batch.JobQueue;
  /** The role the training container assumes (MLOPS_BATCH_JOB_ROLE_ARN). */
  readonly jobRole: iam.Role;
  /** The ECS execution role: image pull, logs, secrets (MLOPS_BATCH_EXECUTION_ROLE_ARN). */
  readonly executionRole: iam.Role;
  /** ARNs of the pipeline's job definition, every revision. */
  readonly jobDefinitionArns: string[];
  readonly logGroupArn: string;
  /** Prefix of the Secrets Manager secrets and SSM parameters the job may read. */
  readonly secretsPrefix: string;

  constructor(scope: Construct, id: string, props: BatchTrainingProps) {
    super(scope, id);
    const stack = Stack.of(this);

    // Public subnets only: instances reach ECR, S3 and Snowflake directly, with no NAT gateway
    // billed by the hour. They take no inbound traffic (the security group allows none). S3
    // traffic goes through the free gateway endpoint instead of the internet.
    this.vpc = new ec2.Vpc(this, "Vpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "public", subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    // Rejected traffic only: the record that matters (something probing the instances) for
    // little volume.
    this.vpc.addFlowLog("RejectedTraffic", {
      destination: ec2.FlowLogDestination.toS3(props.flowLogsBucket, "vpc-flow-logs/"),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    const instanceTypes = props.gpuInstanceTypes.filter((t) => t.includes("."));
    const instanceClasses = props.gpuInstanceTypes.filter((t) => !t.includes("."));
    this.computeEnvironment = new batch.ManagedEc2EcsComputeEnvironment(this, "GpuCompute", {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      // Nothing runs, nothing is billed: Batch starts an instance for a job and stops it after.
      minvCpus: 0,
      maxvCpus: props.maxGpuVcpus,
      instanceTypes: instanceTypes.map((t) => new ec2.InstanceType(t)),
      instanceClasses: instanceClasses as ec2.InstanceClass[],
      // Only the GPU families named, never Batch's "optimal" CPU families.
      useOptimalInstanceClasses: false,
      // The ECS-optimized GPU AMI (NVIDIA driver, container toolkit); the train image brings CUDA.
      images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
      allocationStrategy: batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
      // Newer AMIs are picked up when instances are replaced, not by rebuilding the environment.
      updateToLatestImageVersion: true,
      replaceComputeEnvironment: false,
    });
    acknowledge(
      this.computeEnvironment,
      [
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]",
      ],
      "The instance role of the Batch ECS hosts: AWS's managed policy for the ECS agent (register the instance, pull images, write logs) follows the agent's needs as they change; the jobs themselves run with the job role",
    );
    this.queue = new batch.JobQueue(this, "Queue", {
      jobQueueName: `${props.prefix}-gpu-training`,
      computeEnvironments: [{ computeEnvironment: this.computeEnvironment, order: 1 }],
    });

    this.jobDefinitionArns = [
      // RegisterJobDefinition names the definition without a revision; SubmitJob with one.
      stack.formatArn({
        service: "batch",
        resource: "job-definition",
        resourceName: props.jobDefinitionName,
      }),
      stack.formatArn({
        service: "batch",
        resource: "job-definition",
        resourceName: `${props.jobDefinitionName}:*`,
      }),
    ];
    this.logGroupArn = stack.formatArn({
      service: "logs",
      resource: "log-group",
      resourceName: props.logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });

    // The container's own credentials: the code it runs is the pull request's, so it gets the
    // run store's working folders and nothing of production.
    this.jobRole = new iam.Role(this, "JobRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "AWS Batch training job: reads code packages, reads and writes runs",
    });
    props.store.grantList(this.jobRole, ["runs", "code"]);
    props.store.grantRead(this.jobRole, ["runs", "code"], "ReadRunsAndCode");
    props.store.grantWrite(this.jobRole, ["runs"], "WriteRuns");
    props.store.denyWrite(this.jobRole, ["registry", "sagemaker-models"]);

    // Used by the ECS agent before the container starts: pull the train image, write its logs,
    // and put the job definition's secrets (SNOWFLAKE_PRIVATE_KEY=arn:...) in its environment.
    this.secretsPrefix = `${props.prefix}/`;
    this.executionRole = new iam.Role(this, "ExecutionRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: `AWS Batch training job execution: image pull, logs, secrets under ${this.secretsPrefix}`,
    });
    props.trainRepository.grantPull(this.executionRole);
    acknowledgeUnscopedActions(this.executionRole, ["ecr:GetAuthorizationToken"]);
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "WriteJobLogs",
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [`${this.logGroupArn}:log-stream:*`],
      }),
    );
    acknowledgeWildcardResources(
      this.executionRole,
      [`${this.logGroupArn}:log-stream:*`],
      "Log streams of the Batch log group only; ECS names one per job at run time",
    );
    // Secrets Manager ARNs end in a random suffix (-AbCdEf), and the secrets are the user's to
    // create (e.g. mlops/snowflake-private-key): a name prefix is the scope.
    const secretsArn = stack.formatArn({
      service: "secretsmanager",
      resource: "secret",
      resourceName: `${this.secretsPrefix}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const parametersArn = stack.formatArn({
      service: "ssm",
      resource: "parameter",
      resourceName: `${this.secretsPrefix}*`,
    });
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ReadPipelineSecrets",
        actions: ["secretsmanager:GetSecretValue"],
        resources: [secretsArn],
      }),
    );
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ReadPipelineParameters",
        actions: ["ssm:GetParameters"],
        resources: [parametersArn],
      }),
    );
    acknowledgeWildcardResources(
      this.executionRole,
      [secretsArn, parametersArn],
      `Only secrets and SSM parameters named ${this.secretsPrefix}...; their names are the user's and Secrets Manager appends a random suffix to each ARN`,
    );
  }
}
