/**
 * The card is a public pull-request comment: settings that name infrastructure or carry
 * credentials (ARNs, buckets, image URIs with account ids, URLs) show as set, never their value.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { SETTINGS } from "../../pipeline/config/settings.ts";
import { configChanges } from "../../reports/from-run.ts";
import { tempDir } from "../helpers/rows.ts";

const ACCOUNT = "123456789012";
const ENV = {
  MLOPS_STORE: "s3://acme-private-runs/store",
  MLOPS_BATCH_QUEUE: `arn:aws:batch:eu-west-1:${ACCOUNT}:job-queue/gpu`,
  MLOPS_BATCH_IMAGE: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/mlops-train`,
  MLOPS_BATCH_JOB_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/job`,
  MLOPS_BATCH_EXECUTION_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/exec`,
  MLOPS_BATCH_SECRETS: `SNOWFLAKE_PRIVATE_KEY=arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:mlops/k-AbCdEf`,
  MLOPS_SAGEMAKER_IMAGE: `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve`,
  MLOPS_SAGEMAKER_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/sm`,
  MLOPS_SAGEMAKER_MODEL_DATA: "s3://acme-private-runs/models",
  MLOPS_DOWNLOAD_URL: "https://example.com/data.zip?X-Amz-Signature=abc123",
  MLOPS_EPOCHS: "7",
};

describe("the card's settings diff", () => {
  it("shows sensitive settings as set, and the others with their values", () => {
    const { config, sources } = loadConfig({ env: ENV, cwd: tempDir("sensitive-") });
    const changes = configChanges(config, sources);
    const text = JSON.stringify(changes);
    for (const secret of [ACCOUNT, "acme-private-runs", "X-Amz-Signature", "abc123"]) {
      expect(text).not.toContain(secret);
    }
    const byKey = Object.fromEntries(changes.map((c) => [c.key, c]));
    expect(byKey["compute.batch.jobRoleArn"]).toMatchObject({
      value: "(set)",
      default: "(not set)",
    });
    expect(byKey.store).toMatchObject({ value: "(set)", default: "(default)" });
    expect(byKey["train.epochs"]).toMatchObject({ value: 7 });
    // Every setting set above is in the diff.
    expect(changes.length).toBeGreaterThanOrEqual(Object.keys(ENV).length);
  });

  it("marks every setting whose value is an ARN, a bucket, an image or a URL", () => {
    const sensitive = SETTINGS.filter((s) => s.sensitive)
      .map((s) => s.key)
      .sort();
    expect(sensitive).toEqual(
      [
        "compute.batch.executionRoleArn",
        "compute.batch.image",
        "compute.batch.jobRoleArn",
        "compute.batch.queue",
        "compute.batch.secrets",
        "data.downloadUrl",
        "monitor.traffic",
        "promote.sagemaker.alarms",
        "promote.sagemaker.capture",
        "promote.sagemaker.image",
        "promote.sagemaker.modelData",
        "promote.sagemaker.roleArn",
        "store",
      ].sort(),
    );
  });
});
