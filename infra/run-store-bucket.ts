/**
 * The run store on S3 (MLOPS_S3_STORE = s3://bucket/prefix) and the key-prefix-scoped grants
 * every role gets on it. The layout under the prefix (pipeline/store, pipeline/promote):
 *
 *   runs/<id>/<stage>/...   every stage's outputs and stage.json (pipeline role, Batch job, promote)
 *   code/<sha256>.tgz       the code package the Batch job executes (uploaded by the train job)
 *   registry/...            production.json and history/, written only by promote
 *   sagemaker-models/...    model.tar.gz SageMaker reads, written only by promote
 *   datacapture/...         the endpoint's Data Capture (MLOPS_SAGEMAKER_CAPTURE), written by
 *                           SageMaker, read by the drift check (pipeline role)
 *
 * Grants name object ARNs under one folder each and ListBucket with an `s3:prefix` condition,
 * so no role can read or list outside the folders it needs.
 */
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { acknowledge, acknowledgeWildcardResources } from "./nag-suppressions.ts";

/** The top-level folders of the run store. */
export type StoreFolder = "runs" | "code" | "registry" | "sagemaker-models" | "datacapture";

export interface RunStoreBucketProps {
  /** Folder of the store inside the bucket; "" is the bucket's root. */
  storePrefix: string;
  /** Use this existing bucket (by name) instead of creating one. */
  existingBucketName?: string;
  /** Server access logs of the new bucket go here. */
  accessLogsBucket?: s3.IBucket;
}

/** Object-writing actions: put (multipart included) and delete, the ones production keys deny. */
const WRITE_ACTIONS = ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];
/** What the explicit Deny covers: every way to create, change or remove an object or version. */
const DENY_WRITE_ACTIONS = [
  "s3:PutObject",
  "s3:PutObjectAcl",
  "s3:PutObjectTagging",
  "s3:PutObjectRetention",
  "s3:PutObjectLegalHold",
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:DeleteObjectTagging",
  "s3:RestoreObject",
  "s3:ReplicateObject",
];

export class RunStoreBucket extends Construct {
  readonly bucket: s3.IBucket;
  /** "" or "<prefix>" without slashes at either end. */
  readonly storePrefix: string;

  constructor(scope: Construct, id: string, props: RunStoreBucketProps) {
    super(scope, id);
    this.storePrefix = props.storePrefix;
    if (props.existingBucketName !== undefined) {
      // An existing bucket keeps its own settings (encryption, versioning, policy): the stack
      // only grants access to it.
      this.bucket = s3.Bucket.fromBucketName(this, "Bucket", props.existingBucketName);
      return;
    }
    this.bucket = new s3.Bucket(this, "Bucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // promote reads, changes and writes registry/production.json: versions let a bad write
      // (or a deleted run a production model points at) be rolled back by hand.
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: props.accessLogsBucket ? "run-store/" : undefined,
      lifecycleRules: [
        {
          id: "expire-old-versions",
          // Superseded registry files and overwritten checkpoints: 90 days to notice and restore.
          noncurrentVersionExpiration: Duration.days(90),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
        { id: "remove-expired-delete-markers", expiredObjectDeleteMarker: true },
      ],
      // Runs, the registry and the models in production outlive the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  /** `s3://bucket/prefix`, the value of MLOPS_S3_STORE. */
  get storeUrl(): string {
    const root = `s3://${this.bucket.bucketName}`;
    return this.storePrefix === "" ? root : `${root}/${this.storePrefix}`;
  }

  /** The key prefix of a folder, with its trailing slash: `store/runs/`. */
  folderKey(folder: StoreFolder): string {
    return this.storePrefix === "" ? `${folder}/` : `${this.storePrefix}/${folder}/`;
  }

  /** ARN pattern of every object under a folder. */
  objectsArn(folder: StoreFolder): string {
    return this.bucket.arnForObjects(`${this.folderKey(folder)}*`);
  }

  /** Object ARNs of these folders, acknowledged as wildcards on the grantee (prefix-scoped). */
  private folderArns(grantee: iam.Role, folders: StoreFolder[]): string[] {
    const arns = folders.map((f) => this.objectsArn(f));
    acknowledgeWildcardResources(
      grantee,
      arns,
      "Objects under one folder of the run store (runs/, code/, registry/, sagemaker-models/): keys hold run ids and content hashes made at run time, so a key prefix is the narrowest scope",
    );
    return arns;
  }

  /** ListBucket, limited by `s3:prefix` to these folders. */
  grantList(grantee: iam.Role, folders: StoreFolder[]): void {
    grantee.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "ListRunStoreFolders",
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": folders.map((f) => `${this.folderKey(f)}*`) } },
      }),
    );
  }

  grantRead(grantee: iam.Role, folders: StoreFolder[], sid = "ReadRunStore"): void {
    grantee.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid,
        actions: ["s3:GetObject"],
        resources: this.folderArns(grantee, folders),
      }),
    );
  }

  grantWrite(grantee: iam.Role, folders: StoreFolder[], sid = "WriteRunStore"): void {
    grantee.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid,
        actions: WRITE_ACTIONS,
        resources: this.folderArns(grantee, folders),
      }),
    );
  }

  /**
   * An explicit Deny of every object write under these folders: a broader Allow added later (a
   * managed policy, s3:* for debugging) cannot give pull-request code the production keys.
   */
  denyWrite(grantee: iam.Role, folders: StoreFolder[]): void {
    grantee.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: "DenyProductionWrites",
        effect: iam.Effect.DENY,
        actions: DENY_WRITE_ACTIONS,
        resources: folders.map((f) => this.objectsArn(f)),
      }),
    );
  }
}

/** A bucket for the run store's server access logs and the VPC's flow logs. */
export function accessLogsBucket(scope: Construct, id: string): s3.Bucket {
  const bucket = new s3.Bucket(scope, id, {
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    // Server access log delivery supports SSE-S3 only, not SSE-KMS.
    encryption: s3.BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ id: "expire-logs", expiration: Duration.days(365) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  acknowledge(
    bucket,
    ["AwsSolutions-S1"],
    "This is the log bucket itself (run store access logs, VPC flow logs): logging its own access would need yet another bucket",
  );
  return bucket;
}
