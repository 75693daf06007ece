/**
 * `model.tar.gz` as SageMaker wants it: SageMaker unpacks the archive into `/opt/ml/model`, so
 * the artifact files sit at the archive's root (model.json, weights.bin, sessions.bin,
 * vocabulary.json, model-config.json, history.json), and the server loads that folder as is.
 *
 * The archive is deterministic: fixed order, mtime, mode and no owner fields, so the same
 * artifact always gives the same bytes (and the same sha256 in the run record), whoever built it.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, copyFile, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as tar from "tar";
import { PipelineError } from "../errors.ts";
import { ARTIFACT_FILES, REQUIRED_ARTIFACT_FILES } from "../model/artifact.ts";

/** In archive order; sessions.bin only where the artifact has one (not before format @2). */
export const PACKAGE_FILES: readonly string[] = Object.values(ARTIFACT_FILES).sort();

/** 2000-01-01: a fixed time for every entry (0 would read as "unset" to some tar tools). */
const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));

export interface ModelPackage {
  path: string;
  bytes: number;
  sha256: string;
}

/** Packs the artifact folder `artifactDir` into `outFile` (created or replaced). */
export async function buildModelPackage(
  artifactDir: string,
  outFile: string,
): Promise<ModelPackage> {
  const missing: string[] = [];
  const files: string[] = [];
  for (const file of PACKAGE_FILES) {
    const info = await stat(join(artifactDir, file)).catch(() => undefined);
    if (info?.isFile()) files.push(file);
    else if (REQUIRED_ARTIFACT_FILES.includes(file)) missing.push(file);
  }
  if (missing.length > 0) {
    throw new PipelineError(
      `cannot package the model: ${artifactDir} lacks ${missing.join(", ")}`,
      2,
      "package a folder written by `pipeline train` (runs/<id>/train/model/ in the run store)",
    );
  }
  // Copies with one mode: file modes differ between checkouts and umasks, and tar records them.
  const staging = await mkdtemp(join(tmpdir(), "model-package-"));
  try {
    for (const file of files) {
      await copyFile(join(artifactDir, file), join(staging, file));
      await chmod(join(staging, file), 0o644);
    }
    await mkdir(dirname(outFile), { recursive: true });
    await tar.create(
      {
        file: outFile,
        cwd: staging,
        gzip: true,
        portable: true,
        mtime: FIXED_MTIME,
        noDirRecurse: true,
      },
      files,
    );
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const { size } = await stat(outFile);
  return { path: outFile, bytes: size, sha256: await sha256File(outFile) };
}

/**
 * Unpacks a model package into `dir` (for the server given a .tar.gz). Only regular files at the
 * archive's root are taken: no paths, links or devices can reach outside `dir`. Fails naming the
 * files that are missing.
 */
export async function extractModelPackage(tgz: string, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const taken: string[] = [];
  try {
    await tar.extract({
      file: tgz,
      cwd: dir,
      strict: true,
      filter: (path, entry) => {
        const name = path.replace(/^\.\//, "");
        const ok = "type" in entry && entry.type === "File" && !name.includes("/") && name !== "";
        if (ok) taken.push(name);
        return ok;
      },
    });
  } catch (error) {
    throw new PipelineError(
      `cannot unpack model package ${tgz}: ${(error as Error).message}`,
      2,
      "give a model.tar.gz built by `pipeline promote` (gzip-compressed tar)",
    );
  }
  const missing = PACKAGE_FILES.filter(
    (file) => REQUIRED_ARTIFACT_FILES.includes(file) && !taken.includes(file),
  );
  if (missing.length > 0) {
    throw new PipelineError(
      `model package ${tgz} lacks ${missing.join(", ")} at its root`,
      2,
      "build the package from a complete artifact folder written by `pipeline train`",
    );
  }
  return taken.sort();
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
