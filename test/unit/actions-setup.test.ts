/**
 * actions/setup's export of repository variables: settings' variables (MLOPS_*, SNOWFLAKE_*)
 * reach the job's later steps through GITHUB_ENV, others do not, and what the workflow sets
 * itself (the fork-safe store and warehouse) is never replaced.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportVariables, variablesToExport } from "../../actions/setup/export-variables.ts";

describe("variablesToExport", () => {
  it("keeps settings' variables the workflow does not set", () => {
    expect(
      variablesToExport(
        {
          MLOPS_SESSIONS: "5000",
          MLOPS_BATCH_QUEUE: "gpu-queue",
          SNOWFLAKE_ACCOUNT: "myorg-acct",
          MLOPS_STORE: "s3://other/bucket",
          AWS_ROLE_ARN: "arn:aws:iam::123456789012:role/ci",
          mlops_lower: "x",
        },
        { MLOPS_STORE: "" },
      ),
    ).toEqual({
      MLOPS_SESSIONS: "5000",
      MLOPS_BATCH_QUEUE: "gpu-queue",
      SNOWFLAKE_ACCOUNT: "myorg-acct",
    });
  });
});

describe("exportVariables", () => {
  let dir: string;
  const saved = { ...process.env };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "setup-vars-"));
    process.env.GITHUB_ENV = join(dir, "env");
    await writeFile(process.env.GITHUB_ENV, "");
    delete process.env.MLOPS_EPOCHS;
  });

  afterEach(async () => {
    process.env = { ...saved };
    await rm(dir, { recursive: true, force: true });
  });

  it("writes them to GITHUB_ENV for the later steps", async () => {
    expect(exportVariables(JSON.stringify({ MLOPS_EPOCHS: "3", OTHER: "x" }))).toEqual([
      "MLOPS_EPOCHS",
    ]);
    const written = await readFile(join(dir, "env"), "utf8");
    expect(written).toMatch(/^MLOPS_EPOCHS<<(.+)\n3\n\1\n$/);
    expect(process.env.MLOPS_EPOCHS).toBe("3");
  });

  it("says what to pass when the input is not toJSON(vars)", () => {
    expect(() => exportVariables("vars")).toThrow(
      "VARIABLES is not JSON: pass ${{ toJSON(vars) }}",
    );
    expect(() => exportVariables("[1]")).toThrow("VARIABLES is not a JSON object");
  });
});
