/**
 * The train image's process: fetch the run's code package, check it, unpack it next to the
 * image's dependencies and run its CLI with the job's arguments. The image itself holds Node,
 * `node_modules` and this bootstrap (bundled to containers/dist/train-bootstrap.mjs), no pipeline
 * code, so what a job runs is always the code of the run that submitted it.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { InputError, PipelineError } from "../errors.ts";
import type { ArtifactStore } from "../store/store.ts";
import { sha256Hex } from "../data/file-hash.ts";
import { CODE_PACKAGE_PREFIX, unpackCodePackage, verifyCodePackage } from "./code-package.ts";

/** The variable that names the package: `<run store>/code/<sha256>.tar.gz`. */
export const CODE_PACKAGE_ENV = "MLOPS_CODE_PACKAGE";

export interface CodePackageLocation {
  /** The run store that holds it (`s3://bucket/prefix`, or a folder in tests). */
  store: string;
  key: string;
  sha256: string;
}

export function parseCodePackageUrl(url: string): CodePackageLocation {
  const match = /^(.*)\/(code\/([0-9a-f]{64})\.tar\.gz)$/.exec(url.trim());
  if (!match || match[1] === "") {
    throw new InputError(
      `${CODE_PACKAGE_ENV} "${url}" does not name a code package (<run store>/${CODE_PACKAGE_PREFIX}<sha256>.tar.gz)`,
      { field: CODE_PACKAGE_ENV },
      "The train stage sets it when it submits the job; run `pipeline train --compute batch` instead of starting the job by hand.",
    );
  }
  return { store: match[1] as string, key: match[2] as string, sha256: match[3] as string };
}

export interface BootstrapOptions {
  /** The value of MLOPS_CODE_PACKAGE. */
  packageUrl: string | undefined;
  /** The image's folder with `node_modules` and the `package-lock.json` they were installed from. */
  imageRoot: string;
  /** Where the package is unpacked (a folder of its own is made inside). */
  workDir: string;
  /** The CLI's arguments (the job's command). */
  args: readonly string[];
  openStore(location: string): ArtifactStore;
  log(line: string): void;
}

/** Downloads, verifies and unpacks the package; returns the folder that holds its code. */
export async function prepareCodePackage(options: BootstrapOptions): Promise<string> {
  if (options.packageUrl === undefined || options.packageUrl.trim() === "") {
    throw new InputError(
      `${CODE_PACKAGE_ENV} is not set: this image holds the dependencies only, not the pipeline's code`,
      { field: CODE_PACKAGE_ENV },
      "Start training with `pipeline train --compute batch`, which uploads the checkout's code package and names it in the job.",
    );
  }
  const location = parseCodePackageUrl(options.packageUrl);
  const store = options.openStore(location.store);
  const bytes = await store.get(location.key);
  if (bytes === undefined) {
    throw new PipelineError(
      `the code package ${location.key} is not in the run store ${location.store}`,
      2,
      "The train stage uploads it before submitting the job; check that the job's role may read code/* in the store.",
    );
  }
  const tar = verifyCodePackage(bytes, location.sha256);
  const dir = join(options.workDir, `mlops-code-${location.sha256.slice(0, 16)}`);
  rmSync(dir, { recursive: true, force: true });
  const files = unpackCodePackage(tar, dir);
  checkLockfile(dir, options.imageRoot);
  symlinkSync(join(options.imageRoot, "node_modules"), join(dir, "node_modules"), "dir");
  options.log(
    `code package ${location.sha256.slice(0, 12)}: ${files.length} files from ${location.store}`,
  );
  return dir;
}

/**
 * The image's dependencies were installed from one lockfile; code written against another may
 * import what is not there, or a different version of it, so the two must be the same file.
 */
function checkLockfile(codeDir: string, imageRoot: string): void {
  const packaged = join(codeDir, "package-lock.json");
  const installed = join(imageRoot, "package-lock.json");
  if (!existsSync(packaged) || !existsSync(installed)) return;
  const a = sha256Hex(readFileSync(packaged));
  const b = sha256Hex(readFileSync(installed));
  if (a !== b) {
    throw new PipelineError(
      `the code package's package-lock.json (sha256 ${a.slice(0, 12)}) is not the one this image was built from (${b.slice(0, 12)})`,
      2,
      "Dependencies changed: build and push the train image for this lockfile (the images workflow, or `pipeline images` for its tag), then run again.",
    );
  }
}

/** Prepares the package and runs its CLI; resolves with the CLI's exit code. */
export async function runCodePackage(options: BootstrapOptions): Promise<number> {
  const dir = await prepareCodePackage(options);
  const child = spawn(process.execPath, [join(dir, "bin", "pipeline.js"), ...options.args], {
    cwd: dir,
    stdio: "inherit",
  });
  // Batch stops a job with SIGTERM (then SIGKILL): the CLI gets it to save a checkpoint.
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onTerm = forward("SIGTERM");
  const onInt = forward("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, signal) => resolve(code ?? (signal === "SIGKILL" ? 137 : 143)));
    });
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
  }
}
