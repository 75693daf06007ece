/**
 * The CLI with `--store s3://bucket/prefix` against a real S3-compatible server on loopback:
 * the upload stage's record lands in the bucket and the runs client reads it back.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { json, runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";
import { startS3rver, type S3rverProcess } from "../helpers/s3rver.ts";

let server: S3rverProcess;
beforeAll(async () => {
  server = await startS3rver(tempDir("s3rver-"), "mlops-runs");
});
afterAll(async () => {
  await server.stop();
});

describe("pipeline with an S3 run store", () => {
  it("records runs in the bucket and lists them from there", async () => {
    const cwd = tempDir();
    const env = {
      MLOPS_S3_ENDPOINT: server.endpoint,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
      MLOPS_SESSIONS: "300",
      MLOPS_SKUS: "100",
    };
    const store = ["--store", "s3://mlops-runs/team-a"];
    const upload = await runCli(["upload", ...store, "--json"], { cwd, env });
    expect(upload.code, upload.stderr).toBe(0);
    const { runId } = json<{ runId: string }>(upload);

    const listed = json<{ store: string; runs: { runId: string }[] }>(
      await runCli(["runs", ...store, "--json"], { cwd, env }),
    );
    expect(listed.store).toBe("s3://mlops-runs/team-a");
    expect(listed.runs.map((r) => r.runId)).toEqual([runId]);

    const shown = json<{ artifacts: string[] }>(
      await runCli(["runs", "show", runId, ...store, "--json"], { cwd, env }),
    );
    expect(shown.artifacts).toEqual([`runs/${runId}/upload/stage.json`]);

    // Another prefix in the same bucket is another store.
    const other = json<{ runs: unknown[] }>(
      await runCli(["runs", "--store", "s3://mlops-runs/team-b", "--json"], { cwd, env }),
    );
    expect(other.runs).toEqual([]);
    // Nothing went to the local default store.
    expect(existsSync(join(cwd, ".mlops", "runs"))).toBe(false);
  });

  it("rejects a malformed S3 URL with exit code 2", async () => {
    const result = await runCli(["runs", "--store", "s3://Bad_Bucket/x"], { cwd: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("s3://Bad_Bucket/x");
  });
});
