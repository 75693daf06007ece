/**
 * The SageMaker side of promotion: the execution role the endpoint's model runs with, and the
 * permissions the deploy role needs to create and update the endpoint (pipeline/promote/sagemaker.ts).
 * The endpoint itself is not created here: the promote stage creates it on its first deploy and
 * updates it blue/green after, so its config always names the model in the registry.
 */
import { ArnFormat, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as ecr from "aws-cdk-lib/aws-ecr";
import { Construct } from "constructs";
import { acknowledgeUnscopedActions, acknowledgeWildcardResources } from "./nag-suppressions.ts";
import type { RunStoreBucket } from "./run-store-bucket.ts";

/** Everything pipeline/promote/sagemaker.ts calls on the SageMaker API. */
export const SAGEMAKER_DEPLOY_ACTIONS = [
  "sagemaker:CreateModel",
  "sagemaker:CreateEndpointConfig",
  "sagemaker:CreateEndpoint",
  "sagemaker:UpdateEndpoint",
  "sagemaker:DescribeEndpoint",
  "sagemaker:DescribeEndpointConfig",
  "sagemaker:DeleteModel",
  "sagemaker:DeleteEndpointConfig",
  "sagemaker:ListTags",
  // Tags are set at create (endpoint name, run id), which needs AddTags on the new resource.
  "sagemaker:AddTags",
];
/** List calls have no resource-level permissions. */
export const SAGEMAKER_LIST_ACTIONS = ["sagemaker:ListModels", "sagemaker:ListEndpointConfigs"];

export interface SageMakerServingProps {
  endpointName: string;
  store: RunStoreBucket;
  serveRepository: ecr.IRepository;
}

/**
 * The name prefix of the models and endpoint configs promote creates. deploymentName() in
 * pipeline/promote/sagemaker.ts names them `<head>-<run>-<timestamp>`, where head is the
 * endpoint name cut to fit 63 characters; the tail takes at most 42, so the first 20
 * characters of the endpoint name (less trailing hyphens) always survive.
 */
export function deploymentNamePrefix(endpointName: string): string {
  return endpointName.slice(0, 20).replace(/-+$/, "");
}

export class SageMakerServing extends Construct {
  /** MLOPS_SAGEMAKER_ROLE_ARN: what the model container runs as. */
  readonly executionRole: iam.Role;
  readonly endpointArns: string[];
  /** Models and endpoint configs of this endpoint (ARNs hold names in lowercase). */
  readonly deploymentArns: string[];

  constructor(scope: Construct, id: string, props: SageMakerServingProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // SageMaker writes resource names into ARNs in lowercase, and IAM compares ARNs
    // case-sensitively: a name with capitals is allowed in both spellings.
    const names = [...new Set([props.endpointName.toLowerCase(), props.endpointName])];
    const arn = (resource: string, name: string) =>
      stack.formatArn({ service: "sagemaker", resource, resourceName: name });
    this.endpointArns = names.map((name) => arn("endpoint", name));
    this.deploymentArns = names.flatMap((name) => [
      arn("endpoint-config", `${deploymentNamePrefix(name)}*`),
      arn("model", `${deploymentNamePrefix(name)}*`),
    ]);

    this.executionRole = new iam.Role(this, "ExecutionRole", {
      assumedBy: new iam.ServicePrincipal("sagemaker.amazonaws.com", {
        // Confused deputy: only SageMaker acting for this account may assume it.
        conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
      }),
      description:
        "SageMaker endpoint model: pulls the serve image, reads sagemaker-models, writes datacapture",
    });
    props.serveRepository.grantPull(this.executionRole);
    props.store.grantRead(this.executionRole, ["sagemaker-models"], "ReadModelData");
    // Data Capture (promote.sagemaker.capture) writes the requests and answers as this role.
    props.store.grantWrite(this.executionRole, ["datacapture"], "WriteDataCapture");
    // The container's stdout/stderr, in the log groups SageMaker names after the endpoint.
    const endpointLogs = stack.formatArn({
      service: "logs",
      resource: "log-group",
      resourceName: "/aws/sagemaker/Endpoints/*",
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    acknowledgeWildcardResources(
      this.executionRole,
      [endpointLogs],
      "SageMaker's own log groups for endpoints (/aws/sagemaker/Endpoints/<endpoint>) and their streams, named per instance at run time",
    );
    acknowledgeUnscopedActions(this.executionRole, [
      "ecr:GetAuthorizationToken",
      "cloudwatch:PutMetricData (limited by the cloudwatch:namespace condition)",
    ]);
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "WriteEndpointLogs",
        actions: [
          "logs:CreateLogGroup",
          "logs:CreateLogStream",
          "logs:PutLogEvents",
          "logs:DescribeLogStreams",
        ],
        resources: [endpointLogs],
      }),
    );
    this.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "PutEndpointMetrics",
        actions: ["cloudwatch:PutMetricData"],
        resources: ["*"],
        conditions: {
          StringLike: { "cloudwatch:namespace": ["/aws/sagemaker/*", "AWS/SageMaker"] },
        },
      }),
    );
  }

  /** What the deploy role (promote) needs: SageMaker on this endpoint, PassRole, invoke. */
  grantDeploy(grantee: iam.Role): void {
    const add = (statement: iam.PolicyStatement) => grantee.addToPrincipalPolicy(statement);
    acknowledgeWildcardResources(
      grantee,
      this.deploymentArns,
      "Models and endpoint configs of this endpoint only: promote names them <endpoint>-<run id>-<timestamp> at deploy time (deploymentName in pipeline/promote/sagemaker.ts)",
    );
    acknowledgeUnscopedActions(grantee, SAGEMAKER_LIST_ACTIONS);
    add(
      new iam.PolicyStatement({
        sid: "DeployEndpoint",
        actions: SAGEMAKER_DEPLOY_ACTIONS,
        resources: [...this.endpointArns, ...this.deploymentArns],
      }),
    );
    add(
      new iam.PolicyStatement({
        sid: "ListDeployments",
        actions: SAGEMAKER_LIST_ACTIONS,
        resources: ["*"],
      }),
    );
    // The smoke test after each deploy.
    add(
      new iam.PolicyStatement({
        sid: "SmokeTestEndpoint",
        actions: ["sagemaker:InvokeEndpoint"],
        resources: this.endpointArns,
      }),
    );
    add(
      new iam.PolicyStatement({
        sid: "PassSageMakerExecutionRole",
        actions: ["iam:PassRole"],
        resources: [this.executionRole.roleArn],
        conditions: { StringEquals: { "iam:PassedToService": "sagemaker.amazonaws.com" } },
      }),
    );
  }
}
