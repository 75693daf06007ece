/**
 * The hand-off from a remote training job: the job wrote the train stage's outputs under
 * `runs/<id>/train/` in the (S3) run store; this copies the model artifact to a local folder and
 * checks that it is complete before anything loads it.
 */
import { existsSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { sha256File } from "../data/file-hash.ts";
import { PipelineError } from "../errors.ts";
import { LocalStore } from "../store/local-store.ts";
import type { ArtifactStore } from "../store/store.ts";
import { stageKey, type StageInput } from "../store/runs.ts";
import { createHash } from "node:crypto";
import { ARTIFACT_FILES, REQUIRED_ARTIFACT_FILES } from "../model/artifact.ts";
import { modelPrefix } from "./train.ts";

export interface FetchedTrainArtifact {
  /** The local folder holding the model files (loadModelArtifact reads it): `localDir`. */
  modelDir: string;
  /** The files copied, relative to `localDir`, sorted. */
  files: string[];
  bytes: number;
}

/**
 * Copies the model artifact of a run (`runs/<runId>/train/model/`, where the train stage writes
 * it, locally or in a Batch job) to `localDir`, after checking that every artifact file is there
 * (model.json, weights.bin, vocabulary.json, model-config.json, history.json).
 */
export async function fetchTrainArtifact(
  store: ArtifactStore,
  runId: string,
  localDir: string,
): Promise<FetchedTrainArtifact> {
  const prefix = modelPrefix(runId);
  const where = `${store.location}/${prefix}/`;
  const files = (await store.list(prefix)).map((key) => key.slice(prefix.length + 1));
  const checkHint = `Check that the training job succeeded (its log), and that it was given the same run store (MLOPS_STORE=${store.location}) and run id (--run-id ${runId}).`;

  if (files.length === 0) {
    // Say what the stage did leave (checkpoints, its record): it tells how far the job got.
    const stageFolder = stageKey(runId, "train", "");
    const others = (await store.list(stageFolder)).map((key) => key.slice(stageFolder.length));
    throw new PipelineError(
      `no model artifact for run ${runId} in ${where}: nothing is stored there` +
        (others.length > 0 ? ` (${stageFolder} holds only ${listed(others)})` : ""),
      1,
      checkHint,
    );
  }
  const missing = REQUIRED_ARTIFACT_FILES.filter((name) => !files.includes(name));
  if (missing.length > 0) {
    throw new PipelineError(
      `the model artifact of run ${runId} in ${where} is incomplete: ${listed(missing)} missing`,
      1,
      `The training job stopped while writing its outputs, or something removed them: train again with the same --run-id. ${checkHint}`,
    );
  }

  let bytes = 0;
  for (const file of files) {
    const target = join(localDir, ...file.split("/"));
    if (!(await store.getFile(`${prefix}/${file}`, target))) {
      throw new PipelineError(
        `${where}${file} disappeared while the model artifact of run ${runId} was being copied`,
        1,
        "Something deleted the run's outputs during the copy: train again with the same --run-id.",
      );
    }
    bytes += (await stat(target)).size;
  }
  return { modelDir: localDir, files, bytes };
}

function listed(names: string[]): string {
  const shown = names.slice(0, 8).join(", ");
  return names.length > 8 ? `${shown} and ${names.length - 8} more` : shown;
}

/**
 * A run's model folder, ready to load: read in place from a local store, else copied (and
 * checked) into `<scratch>/<runId>` by `fetchTrainArtifact`.
 */
export async function runModelDir(
  store: ArtifactStore,
  runId: string,
  scratch: string,
): Promise<string> {
  if (store instanceof LocalStore) {
    const local = join(store.root, ...modelPrefix(runId).split("/"));
    if (existsSync(join(local, ARTIFACT_FILES.model))) return local;
  }
  return (await fetchTrainArtifact(store, runId, join(scratch, runId))).modelDir;
}

/**
 * The sha256 of each file of a run's model artifact, as the store holds them now: promoting a
 * reviewed run checks that they are still those its evaluation judged (`modelDirHashes`).
 */
export async function modelArtifactHashes(
  store: ArtifactStore,
  runId: string,
): Promise<StageInput[]> {
  const prefix = modelPrefix(runId);
  const hashes: StageInput[] = [];
  for (const key of await store.list(prefix)) {
    const bytes = await store.get(key);
    if (bytes === undefined) continue;
    hashes.push({
      name: key,
      sha256: createHash("sha256").update(bytes).digest("hex"),
      bytes: bytes.length,
    });
  }
  return hashes;
}

/**
 * The same hashes, named the same way, of the model folder evaluate already has on disk
 * (`runModelDir`): what it judged, recorded without reading the store a second time.
 */
export async function modelDirHashes(dir: string, runId: string): Promise<StageInput[]> {
  const prefix = modelPrefix(runId);
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split(sep).join("/"))
    .sort();
  const hashes: StageInput[] = [];
  for (const file of files) {
    const { sha256, bytes } = await sha256File(join(dir, ...file.split("/")));
    hashes.push({ name: `${prefix}/${file}`, sha256, bytes });
  }
  return hashes;
}
