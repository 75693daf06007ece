/**
 * The hand-off between a Batch training job and the pipeline that submitted it, through a real
 * S3-compatible server (s3rver on loopback). The "job" does what the container does: it opens
 * the run store from the store URL with MLOPS_S3_ENDPOINT set, and writes a real (tiny) model
 * artifact and its stage record under runs/<id>/train/. The caller then copies the artifact with
 * fetchTrainArtifact, through its own store object, and loads it. A run of the earlier format
 * (model@1, no sessions.bin) goes through the same hand-off: it may be the one in production.
 */
import { spawnSync } from "node:child_process";
import { copyFile, mkdir, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fetchTrainArtifact } from "../../pipeline/train/fetch-artifact.ts";
import { publishCodePackage } from "../../pipeline/compute/code-package.ts";
import { TRAIN_IMAGE_BUNDLE } from "../../scripts/bundle.ts";
import { PipelineError } from "../../pipeline/errors.ts";
import { S3Store, parseS3Url } from "../../pipeline/store/s3-store.ts";
import {
  ARTIFACT_FILES,
  REQUIRED_ARTIFACT_FILES,
  loadModelArtifact,
} from "../../pipeline/model/artifact.ts";
import { writeTestArtifact } from "../helpers/model-artifact.ts";
import { hex, tempDir } from "../helpers/rows.ts";
import { startS3rver, type S3rverProcess } from "../helpers/s3rver.ts";

const BUCKET = "mlops-handoff";
const STORE_URL = `s3://${BUCKET}/team-a/runs-store`;
const sku = (i: number) => hex(`item${i}`);
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LEGACY_MODEL_DIR = fileURLToPath(new URL("../fixtures/legacy-model", import.meta.url));

let server: S3rverProcess;
const scratch = tempDir("batch-handoff-");

/** The store as the container opens it: from the URL, the endpoint and keys from the env. */
function openS3Store(): S3Store {
  return new S3Store(parseS3Url(STORE_URL));
}

beforeAll(async () => {
  server = await startS3rver(join(scratch, "s3rver"), BUCKET);
  vi.stubEnv("MLOPS_S3_ENDPOINT", server.endpoint);
  vi.stubEnv("AWS_REGION", "eu-west-1");
  vi.stubEnv("AWS_ACCESS_KEY_ID", "S3RVER");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "S3RVER");
  vi.stubEnv("AWS_SESSION_TOKEN", undefined);
  vi.stubEnv("AWS_PROFILE", undefined);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await server?.stop();
  await rm(scratch, { recursive: true, force: true });
});

/** Files under `dir`, relative, '/'-separated, sorted. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
}

/**
 * What the training container does at its end: the artifact and stage record into the store,
 * less the files in `omit`. The artifact is written fresh, or is the folder `source` when given.
 */
async function simulateJob(
  runId: string,
  omit: readonly string[] = [],
  source?: string,
): Promise<string> {
  const containerDir = source ?? join(scratch, `container-${runId}`, "model");
  if (!source) {
    await writeTestArtifact(containerDir, {
      skus: Array.from({ length: 12 }, (_, i) => sku(i)),
      runId,
      net: { maxLen: 4 },
    });
  }
  const store = openS3Store();
  for (const file of await filesUnder(containerDir)) {
    if (omit.includes(file)) continue;
    await store.putFile(`runs/${runId}/train/model/${file}`, join(containerDir, file));
  }
  await store.put(`runs/${runId}/train/checkpoint/latest.json`, JSON.stringify({ epoch: 1 }));
  await store.put(
    `runs/${runId}/train/stage.json`,
    JSON.stringify({ runId, stage: "train", status: "succeeded" }),
  );
  return containerDir;
}

async function failure(action: () => Promise<unknown>): Promise<PipelineError> {
  try {
    await action();
  } catch (error) {
    expect(error).toBeInstanceOf(PipelineError);
    return error as PipelineError;
  }
  throw new Error("expected a failure");
}

describe("the Batch job → S3 → caller hand-off", () => {
  it("copies every file the job wrote, byte for byte, and the model loads and predicts", async () => {
    const runId = "20261123-090000-aaa111";
    const containerDir = await simulateJob(runId);
    const localDir = join(scratch, "fetched", runId);

    const fetched = await fetchTrainArtifact(openS3Store(), runId, localDir);

    const modelFiles = Object.values(ARTIFACT_FILES).sort();
    expect(fetched.files).toEqual(modelFiles);
    expect(fetched.modelDir).toBe(localDir);
    // Only the model: the stage record and checkpoints stay in the store.
    expect(await filesUnder(localDir)).toEqual(modelFiles);
    let bytes = 0;
    for (const file of modelFiles) {
      const written = await readFile(join(containerDir, file));
      const copied = await readFile(join(fetched.modelDir, file));
      expect(copied.equals(written), file).toBe(true);
      bytes += written.length;
    }
    expect(fetched.bytes).toBe(bytes);

    // The copy is a usable model: it ranks exactly as the job's own files do.
    const fromJob = await loadModelArtifact(containerDir);
    const fromCopy = await loadModelArtifact(fetched.modelDir);
    const sessions = [[sku(1), sku(2)], [sku(7)], ["unknown-sku"]];
    expect(await fromCopy.predict(sessions, 5)).toEqual(await fromJob.predict(sessions, 5));
    expect(fromCopy.config.runId).toBe(runId);
  });

  it("says clearly that nothing was written for a run id the job never wrote", async () => {
    const error = await failure(() =>
      fetchTrainArtifact(openS3Store(), "20261123-090000-none00", join(scratch, "none")),
    );
    expect(error.message).toBe(
      `no model artifact for run 20261123-090000-none00 in ${STORE_URL}/runs/20261123-090000-none00/train/model/: nothing is stored there`,
    );
    expect(error.hint).toContain(`MLOPS_STORE=${STORE_URL}`);
    expect(error.hint).toContain("--run-id 20261123-090000-none00");
  });

  it("names what the stage left when the job stopped before writing the model", async () => {
    const runId = "20261123-090000-ckpt00";
    const store = openS3Store();
    await store.put(`runs/${runId}/train/checkpoint/latest.json`, "{}");
    await store.put(`runs/${runId}/train/checkpoint/epoch-1.bin`, new Uint8Array(16));
    const error = await failure(() => fetchTrainArtifact(store, runId, join(scratch, "ckpt")));
    expect(error.message).toBe(
      `no model artifact for run ${runId} in ${STORE_URL}/runs/${runId}/train/model/: nothing is stored there ` +
        `(runs/${runId}/train/ holds only checkpoint/epoch-1.bin, checkpoint/latest.json)`,
    );
  });

  it.each(REQUIRED_ARTIFACT_FILES.map((file, i) => [file, i]))(
    "refuses an artifact without %s before copying anything",
    async (file, i) => {
      const runId = `20261123-090000-miss0${i}`;
      await simulateJob(runId, [file]);
      const localDir = join(scratch, `missing-${i}`);
      const error = await failure(() => fetchTrainArtifact(openS3Store(), runId, localDir));
      expect(error.message).toBe(
        `the model artifact of run ${runId} in ${STORE_URL}/runs/${runId}/train/model/ is incomplete: ${file} missing`,
      );
      await expect(readdir(localDir)).rejects.toMatchObject({ code: "ENOENT" });
    },
  );

  it("refuses an upload cut short, naming every file it lacks, before copying anything", async () => {
    const runId = "20261123-090000-part00";
    await simulateJob(runId, [
      ARTIFACT_FILES.sessions,
      ARTIFACT_FILES.vocabulary,
      ARTIFACT_FILES.config,
      ARTIFACT_FILES.history,
    ]);
    const localDir = join(scratch, "partial");
    const error = await failure(() => fetchTrainArtifact(openS3Store(), runId, localDir));
    expect(error.message).toBe(
      `the model artifact of run ${runId} in ${STORE_URL}/runs/${runId}/train/model/ is incomplete: vocabulary.json, model-config.json, history.json missing`,
    );
    await expect(readdir(localDir)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("copies a model@1 artifact, which has no sessions.bin, and it ranks as before", async () => {
    const runId = "20261123-090000-old000";
    await simulateJob(runId, ["expected.json"], LEGACY_MODEL_DIR); // the fixture's, not the model's
    const fetched = await fetchTrainArtifact(openS3Store(), runId, join(scratch, "legacy"));
    expect(fetched.files).toEqual([...REQUIRED_ARTIFACT_FILES].sort());
    const expected = JSON.parse(
      await readFile(join(LEGACY_MODEL_DIR, "expected.json"), "utf8"),
    ) as { k: number; sessions: string[][] };
    const fromCopy = await loadModelArtifact(fetched.modelDir);
    const fromFixture = await loadModelArtifact(LEGACY_MODEL_DIR);
    expect(fromCopy.config.format).toBe("mlops-session-recs/model@1");
    expect(await fromCopy.predict(expected.sessions, expected.k)).toEqual(
      await fromFixture.predict(expected.sessions, expected.k),
    );
  });

  it("copies a model@2 artifact without sessions.bin, whose load then names the file", async () => {
    // The copy cannot tell the formats apart without reading model.json; the load can.
    const runId = "20261123-090000-nosess";
    await simulateJob(runId, [ARTIFACT_FILES.sessions]);
    const fetched = await fetchTrainArtifact(openS3Store(), runId, join(scratch, "no-sessions"));
    expect(fetched.files).toEqual([...REQUIRED_ARTIFACT_FILES].sort());
    const error = await failure(() => loadModelArtifact(fetched.modelDir));
    expect(error.message).toBe(
      `model artifact incomplete: cannot read ${join(fetched.modelDir, ARTIFACT_FILES.sessions)} (ENOENT)`,
    );
  });
});

describe("the code package through S3", () => {
  it("the train stage's upload is what the train image's bootstrap downloads and runs", async () => {
    const checkout = join(scratch, "other-checkout");
    await mkdir(join(checkout, "bin"), { recursive: true });
    await mkdir(join(checkout, "pipeline"), { recursive: true });
    await writeFile(
      join(checkout, "bin", "pipeline.js"),
      'import { marker } from "../pipeline/marker.js";\nconsole.log(marker, process.argv.slice(2).join(" "));\n',
    );
    await writeFile(
      join(checkout, "pipeline", "marker.js"),
      'export const marker = "ran the package";\n',
    );
    await writeFile(join(checkout, "package.json"), '{"type":"module"}\n');
    await copyFile(join(ROOT, "package-lock.json"), join(checkout, "package-lock.json"));
    const published = await publishCodePackage(openS3Store(), checkout);
    expect(published.url).toBe(`${STORE_URL}/code/${published.sha256}.tar.gz`);

    // The image: the bootstrap bundle next to the lockfile's node_modules.
    const image = join(scratch, "image");
    await mkdir(image, { recursive: true });
    await copyFile(join(ROOT, TRAIN_IMAGE_BUNDLE), join(image, "train-bootstrap.mjs"));
    await copyFile(join(ROOT, "package-lock.json"), join(image, "package-lock.json"));
    await symlink(join(ROOT, "node_modules"), join(image, "node_modules"), "dir");
    const job = spawnSync(
      process.execPath,
      [join(image, "train-bootstrap.mjs"), "train", "--compute", "local", "--store", STORE_URL],
      {
        encoding: "utf8",
        env: {
          PATH: process.env.PATH,
          MLOPS_CODE_PACKAGE: published.url,
          MLOPS_CODE_DIR: join(scratch, "job-tmp"),
          MLOPS_S3_ENDPOINT: server.endpoint,
          AWS_REGION: "eu-west-1",
          AWS_ACCESS_KEY_ID: "S3RVER",
          AWS_SECRET_ACCESS_KEY: "S3RVER",
        },
      },
    );
    expect(job.status, job.stderr).toBe(0);
    expect(job.stdout.trim()).toBe(`ran the package train --compute local --store ${STORE_URL}`);
    expect(job.stderr).toContain(
      `code package ${published.sha256.slice(0, 12)}: 4 files from ${STORE_URL}`,
    );
  });
});
