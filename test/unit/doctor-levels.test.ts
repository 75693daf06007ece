/**
 * The setup levels `pipeline doctor` checks (pipeline/config/levels.ts): each level all at once,
 * roles and images included, from the environment or a repository's `gh` listings.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkLevels, parseVariables } from "../../pipeline/config/levels.ts";
import { imageTag } from "../../pipeline/compute/images.ts";
import { runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";

const ACCOUNT = "123456789012";
const ECR = `${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com`;
const roleArn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** Every level set up, as infra/'s outputs and the Snowflake script give them. */
const COMPLETE: Record<string, string> = {
  MLOPS_S3_STORE: "s3://acme-mlops-runs/store",
  AWS_ROLE_ARN: roleArn("mlops-pipeline"),
  AWS_DEPLOY_ROLE_ARN: roleArn("mlops-deploy"),
  AWS_IMAGES_ROLE_ARN: roleArn("mlops-images"),
  AWS_REGION: "eu-west-1",
  MLOPS_WAREHOUSE: "snowflake",
  SNOWFLAKE_ACCOUNT: "acme-shop",
  SNOWFLAKE_USER: "MLOPS_PIPELINE_SVC",
  SNOWFLAKE_WAREHOUSE: "MLOPS_WH",
  SNOWFLAKE_DATABASE: "MLOPS",
  SNOWFLAKE_SCHEMA: "SESSION_RECS",
  MLOPS_BATCH_QUEUE: "mlops-gpu",
  MLOPS_BATCH_IMAGE: `${ECR}/mlops-train`,
  MLOPS_BATCH_JOB_ROLE_ARN: roleArn("mlops-batch-job"),
  MLOPS_BATCH_SECRETS: `SNOWFLAKE_PRIVATE_KEY=arn:aws:secretsmanager:eu-west-1:${ACCOUNT}:secret:mlops/snowflake-key-AbCdEf`,
  MLOPS_BATCH_EXECUTION_ROLE_ARN: roleArn("mlops-batch-execution"),
  MLOPS_PROMOTE_TARGET: "sagemaker",
  MLOPS_SAGEMAKER_IMAGE: `${ECR}/mlops-serve`,
  MLOPS_SAGEMAKER_ROLE_ARN: roleArn("mlops-sagemaker"),
};
const SECRETS = new Set(["SNOWFLAKE_PRIVATE_KEY"]);

const byName = (checks: ReturnType<typeof checkLevels>) =>
  Object.fromEntries(checks.map((c) => [c.name, c]));

describe("the setup levels", () => {
  it("skip every level on a fresh fork, naming what each needs", () => {
    const checks = checkLevels({ variables: {}, secrets: new Set() });
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ["s3-store", "skip"],
      ["snowflake", "skip"],
      ["batch", "skip"],
      ["sagemaker", "skip"],
    ]);
    expect(byName(checks)["s3-store"]?.detail).toBe(
      "not set up (level 2, S3 run store): needs MLOPS_S3_STORE, AWS_ROLE_ARN, AWS_DEPLOY_ROLE_ARN",
    );
  });

  it("pass when everything is set, with the images the pipeline will run", () => {
    const checks = byName(checkLevels({ variables: COMPLETE, secrets: SECRETS }));
    expect(Object.values(checks).map((c) => c.status)).toEqual(["ok", "ok", "ok", "ok"]);
    expect(checks.batch?.detail).toContain(`image ${ECR}/mlops-train:${imageTag("train")}`);
    expect(checks.sagemaker?.detail).toContain(`image ${ECR}/mlops-serve:${imageTag("serve")}`);
  });

  it("list every missing or malformed setting of a half-set level at once, roles included", () => {
    const variables = { ...COMPLETE };
    delete variables.MLOPS_BATCH_JOB_ROLE_ARN;
    delete variables.AWS_IMAGES_ROLE_ARN;
    variables.MLOPS_BATCH_IMAGE = "not an image!";
    variables.MLOPS_BATCH_SECRETS = "";
    const batch = byName(checkLevels({ variables, secrets: SECRETS })).batch;
    expect(batch?.status).toBe("fail");
    expect(batch?.detail).toContain("4 to fix");
    for (const text of [
      'MLOPS_BATCH_IMAGE "not an image!" must be an image reference',
      "MLOPS_BATCH_JOB_ROLE_ARN is missing",
      "AWS_IMAGES_ROLE_ARN is missing",
      "MLOPS_BATCH_SECRETS is missing: the Snowflake credential for the job",
    ]) {
      expect(batch?.detail).toContain(text);
    }
    expect(batch?.fix).toContain("npm run infra:variables");
  });

  it("fail a level whose foundation is missing, and check roles are role ARNs", () => {
    const variables: Record<string, string> = { ...COMPLETE, AWS_DEPLOY_ROLE_ARN: "mlops-deploy" };
    delete variables.SNOWFLAKE_SCHEMA;
    const checks = byName(checkLevels({ variables, secrets: new Set() }));
    expect(checks["s3-store"]?.detail).toContain(
      'AWS_DEPLOY_ROLE_ARN "mlops-deploy" must be an IAM role ARN',
    );
    expect(checks.snowflake?.detail).toContain("SNOWFLAKE_SCHEMA is missing");
    expect(checks.snowflake?.detail).toContain("SNOWFLAKE_PRIVATE_KEY (secret) is missing");
    expect(checks.batch?.status).toBe("fail");
    expect(checks.batch?.detail).toContain("Snowflake (level 3) first");
    expect(checks.batch?.detail).toContain("S3 run store (level 2) first");
  });

  it("need no secret with Snowflake workload identity, in the pipeline or the Batch job", () => {
    const variables: Record<string, string> = {
      ...COMPLETE,
      SNOWFLAKE_AUTHENTICATOR: "workload_identity",
      MLOPS_BATCH_SECRETS: "",
    };
    delete variables.SNOWFLAKE_USER;
    delete variables.MLOPS_BATCH_EXECUTION_ROLE_ARN;
    const checks = byName(checkLevels({ variables, secrets: new Set() }));
    expect([checks.snowflake?.status, checks.batch?.status]).toEqual(["ok", "ok"]);
  });

  it("read gh's listings and the environment's alike", () => {
    expect(parseVariables('[{"name":"A","value":"1"},{"name":"B","value":"x"}]', "f")).toEqual({
      A: "1",
      B: "x",
    });
    expect(parseVariables('{"A":"1"}', "f")).toEqual({ A: "1" });
    expect(() => parseVariables("[1]", "vars.json")).toThrow(/vars\.json: entry 1 has no name/);
  });
});

describe("pipeline doctor --variables", () => {
  it("checks a repository's levels from gh's listings and names the files' problems", async () => {
    const dir = tempDir("doctor-levels-");
    const variables = join(dir, "vars.json");
    const secrets = join(dir, "secrets.json");
    const half = Object.entries(COMPLETE)
      .filter(([name]) => name !== "MLOPS_SAGEMAKER_ROLE_ARN")
      .map(([name, value]) => ({ name, value }));
    writeFileSync(variables, JSON.stringify(half));
    writeFileSync(
      secrets,
      JSON.stringify([{ name: "SNOWFLAKE_PRIVATE_KEY", updatedAt: "2026-11-30" }]),
    );
    const result = await runCli(
      ["doctor", "--no-probe", "--json", "--variables", variables, "--secrets", secrets],
      { env: { MLOPS_STORE: join(dir, "store"), MLOPS_CARD_SCREENSHOT: "off" } },
    );
    // The report, then (doctor failing) the error object: one JSON object per line.
    const report = JSON.parse(result.stdout.split("\n")[0] ?? "") as {
      checks: { name: string; status: string; detail: string }[];
    };
    const levels = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(levels["s3-store"]?.status).toBe("ok");
    expect(levels.snowflake?.status).toBe("ok");
    expect(levels.batch?.status).toBe("ok");
    expect(levels.sagemaker?.status).toBe("fail");
    expect(levels.sagemaker?.detail).toContain("MLOPS_SAGEMAKER_ROLE_ARN is missing");
    expect(result.code).toBe(1);

    writeFileSync(variables, "{not json");
    const bad = await runCli(["doctor", "--no-probe", "--variables", variables], {
      env: { MLOPS_STORE: join(dir, "store") },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/vars\.json: cannot read the variables: /);
    expect(bad.stderr).toMatch(/hint: Write it with: gh variable list --json name,value/);
  });
});
