/**
 * The two container images and their tags. Each tag is the hash of what goes into the image:
 * for the train image the lockfile (the dependencies), its Dockerfile and the code-package
 * bootstrap; for the serve image its Dockerfile and the server's bundle. So the train image is
 * rebuilt only when dependencies change (the pipeline's code travels with each run instead),
 * the images workflow skips tags that exist, and the pipeline names the tag of its own checkout
 * when a setting gives the repository without one.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../errors.ts";

export type ImageKind = "train" | "serve";

export interface ImageRecipe {
  dockerfile: string;
  /** Files whose bytes decide the image: the tag is their hash. */
  inputs: readonly string[];
  /** The setting that names the image, and its variable. */
  setting: string;
  env: string;
}

export const IMAGES: Record<ImageKind, ImageRecipe> = {
  train: {
    dockerfile: "containers/train.Dockerfile",
    // package.json is copied too, but npm ci refuses one whose dependencies differ from the
    // lockfile's, so the lockfile alone decides what gets installed.
    inputs: [
      "containers/train.Dockerfile",
      "containers/train.Dockerfile.dockerignore",
      "package-lock.json",
      "containers/dist/train-bootstrap.mjs",
    ],
    setting: "compute.batch.image",
    env: "MLOPS_BATCH_IMAGE",
  },
  serve: {
    dockerfile: "containers/serve.Dockerfile",
    inputs: [
      "containers/serve.Dockerfile",
      "containers/serve.Dockerfile.dockerignore",
      "containers/dist/serve.js",
    ],
    setting: "promote.sagemaker.image",
    env: "MLOPS_SAGEMAKER_IMAGE",
  },
};

/** The checkout this module belongs to (two folders up). */
const CHECKOUT_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** `sha256-` and 24 hex digits of the inputs' hash (paths and bytes, in order). */
export function imageTag(kind: ImageKind, root: string = CHECKOUT_ROOT): string {
  const hash = createHash("sha256");
  for (const input of IMAGES[kind].inputs) {
    const path = join(root, input);
    if (!existsSync(path)) {
      throw new InputError(
        `${input} is missing, so the ${kind} image's tag cannot be computed`,
        { file: input },
        input.startsWith("containers/dist/") ? "Run `npm run bundle` to write it." : undefined,
      );
    }
    hash.update(`${input}\0`);
    hash.update(createHash("sha256").update(readFileSync(path)).digest("hex"));
    hash.update("\n");
  }
  return `sha256-${hash.digest("hex").slice(0, 24)}`;
}

/** True when the reference's last path segment names a tag (`repo:tag`) or digest (`@sha256:`). */
export function hasTagOrDigest(reference: string): boolean {
  const last = reference.slice(reference.lastIndexOf("/") + 1);
  return last.includes(":") || reference.includes("@");
}

/**
 * The image to run: the setting as given when it has a tag or digest (pinned by hand), else the
 * repository with this checkout's tag, the one the images workflow pushes for these inputs.
 */
export function resolveImage(reference: string, kind: ImageKind, root?: string): string {
  return hasTagOrDigest(reference) ? reference : withTag(reference, imageTag(kind, root));
}

/** The reference as given when it pins a tag or digest, else the repository with `tag`. */
function withTag(reference: string, tag: string): string {
  return hasTagOrDigest(reference) ? reference : `${reference}:${tag}`;
}

export interface ImageReport {
  kind: ImageKind;
  dockerfile: string;
  /** This checkout's tag. */
  tag: string;
  /** The setting's value, when set. */
  configured?: string;
  /** What the pipeline runs: the configured reference with this checkout's tag when it had none. */
  image?: string;
}

/** Both images for `pipeline images`: what the images workflow builds and the pipeline runs. */
export function imageReports(configured: Partial<Record<ImageKind, string>>): ImageReport[] {
  return (Object.keys(IMAGES) as ImageKind[]).map((kind) => {
    const value = configured[kind];
    const tag = imageTag(kind);
    return {
      kind,
      dockerfile: IMAGES[kind].dockerfile,
      tag,
      ...(value ? { configured: value, image: withTag(value, tag) } : {}),
    };
  });
}
