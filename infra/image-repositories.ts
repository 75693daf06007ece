/**
 * The two ECR repositories the images workflow pushes to: the train image
 * (containers/train.Dockerfile, run by AWS Batch) and the serve image
 * (containers/serve.Dockerfile, run by SageMaker). Tags are content hashes, so they are
 * immutable: a tag names one image forever, and a job definition or endpoint config that names
 * it always runs the same bytes.
 */
import { RemovalPolicy } from "aws-cdk-lib";
import * as ecr from "aws-cdk-lib/aws-ecr";
import type * as iam from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";

export interface ImageRepositoriesProps {
  prefix: string;
  /** Images each repository keeps; older ones expire (the running ones are recent). */
  keepImages: number;
}

export class ImageRepositories extends Construct {
  readonly train: ecr.Repository;
  readonly serve: ecr.Repository;

  constructor(scope: Construct, id: string, props: ImageRepositoriesProps) {
    super(scope, id);
    const repository = (name: "train" | "serve") =>
      new ecr.Repository(this, name === "train" ? "Train" : "Serve", {
        repositoryName: `${props.prefix}-${name}`,
        imageScanOnPush: true,
        imageTagMutability: ecr.TagMutability.IMMUTABLE,
        lifecycleRules: [
          {
            description: `keep the last ${props.keepImages} images`,
            maxImageCount: props.keepImages,
          },
        ],
        // Endpoints and job definitions may still name these images after the stack is gone.
        removalPolicy: RemovalPolicy.RETAIN,
      });
    this.train = repository("train");
    this.serve = repository("serve");
  }

  /** Push and pull on both repositories (the images workflow); adds GetAuthorizationToken. */
  grantPush(grantee: iam.IGrantable): void {
    for (const repository of [this.train, this.serve]) {
      repository.grantPullPush(grantee);
      // The workflow skips a build whose content-hash tag is already there.
      repository.grant(grantee, "ecr:DescribeImages");
    }
  }
}
