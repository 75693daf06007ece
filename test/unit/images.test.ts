/**
 * The images' tags (pipeline/compute/images.ts): the hash of what goes into each image, so the
 * train image changes with the dependencies and never with the pipeline's code.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { IMAGES, imageTag, resolveImage } from "../../pipeline/compute/images.ts";
import { runCli } from "../helpers/cli.ts";

const ROOT = join(import.meta.dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "images-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the files the tags read, plus a pipeline file that must not count. */
function copy(name: string): string {
  const dir = join(scratch, name);
  for (const file of [...IMAGES.train.inputs, ...IMAGES.serve.inputs, "pipeline/train/train.ts"])
    cpSync(join(ROOT, file), join(dir, file));
  return dir;
}

describe("image tags", () => {
  it("are the same for the same inputs, wherever the checkout is", () => {
    expect(imageTag("train", copy("a"))).toBe(imageTag("train"));
    expect(imageTag("serve", copy("b"))).toBe(imageTag("serve"));
    expect(imageTag("train")).toMatch(/^sha256-[0-9a-f]{24}$/);
  });

  it("change the train image with the lockfile or its Dockerfile, never with the pipeline's code", () => {
    const before = { train: imageTag("train"), serve: imageTag("serve") };
    const code = copy("code");
    appendFileSync(join(code, "pipeline/train/train.ts"), "\n// another training loop\n");
    expect(imageTag("train", code)).toBe(before.train);
    expect(imageTag("serve", code)).toBe(before.serve);

    const deps = copy("deps");
    appendFileSync(join(deps, "package-lock.json"), "\n");
    expect(imageTag("train", deps)).not.toBe(before.train);
    expect(imageTag("serve", deps)).toBe(before.serve);

    const docker = copy("docker");
    appendFileSync(join(docker, "containers/train.Dockerfile"), "\n# changed\n");
    expect(imageTag("train", docker)).not.toBe(before.train);

    const server = copy("server");
    writeFileSync(join(server, "containers/dist/serve.js"), "// another server\n");
    expect(imageTag("serve", server)).not.toBe(before.serve);
  });

  it("name a missing input and what writes it", () => {
    const dir = copy("missing");
    rmSync(join(dir, "containers/dist/train-bootstrap.mjs"));
    expect(() => imageTag("train", dir)).toThrow(
      /containers\/dist\/train-bootstrap\.mjs is missing/,
    );
  });

  it("complete a repository without a tag, and leave a pinned tag or digest alone", () => {
    const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-train";
    expect(resolveImage(repo, "train")).toBe(`${repo}:${imageTag("train")}`);
    expect(resolveImage(`${repo}:v1`, "train")).toBe(`${repo}:v1`);
    expect(resolveImage(`${repo}@sha256:${"a".repeat(64)}`, "train")).toBe(
      `${repo}@sha256:${"a".repeat(64)}`,
    );
    expect(resolveImage("localhost:5000/mlops-serve", "serve")).toBe(
      `localhost:5000/mlops-serve:${imageTag("serve")}`,
    );
  });

  it("are printed by `pipeline images` with the image each setting resolves to", async () => {
    const repo = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/mlops-serve";
    const result = await runCli(["images", "--json"], { env: { MLOPS_SAGEMAKER_IMAGE: repo } });
    expect(result.code, result.stderr).toBe(0);
    const { images } = JSON.parse(result.stdout) as {
      images: { kind: string; tag: string; image?: string }[];
    };
    expect(images.map((i) => i.kind)).toEqual(["train", "serve"]);
    expect(images[0]).not.toHaveProperty("image");
    expect(images[1]).toMatchObject({
      tag: imageTag("serve"),
      image: `${repo}:${imageTag("serve")}`,
    });
  });
});
