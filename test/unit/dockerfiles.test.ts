/**
 * The two Dockerfiles, checked without a Docker engine (none runs here): a small parser reads
 * them the way the builder does (line continuations, comments, exec-form JSON), and the tests
 * check the stages, the entrypoint contract with the CLI and with AWS Batch / SageMaker, and the
 * build context.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  registerJobDefinitionInput,
  trainJobDefinitionSpec,
} from "../../pipeline/compute/batch-job-definition.ts";
import { resolveBatchSettings } from "../../pipeline/compute/batch-settings.ts";
import {
  TRAIN_IMAGE_COMMAND,
  TRAIN_IMAGE_ENTRYPOINT,
  trainJobCommand,
} from "../../pipeline/compute/train-command.ts";

import { IMAGES } from "../../pipeline/compute/images.ts";
import { SERVE_IMAGE_BUNDLE, TRAIN_IMAGE_BUNDLE } from "../../scripts/bundle.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// --- the parser --------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  /** The arguments as written, continuations joined. */
  args: string;
  /** Exec form: the JSON array; undefined for shell form. */
  exec?: string[];
  line: number;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions in order. Comment lines (also inside a continuation) and blank lines are skipped. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i] ?? "";
    if (/^\s*(#.*)?$/.test(first)) continue;
    const start = i + 1;
    let logical = first;
    while (/\\\s*$/.test(logical) && i + 1 < lines.length) {
      logical = logical.replace(/\\\s*$/, " ");
      i++;
      const next = lines[i] ?? "";
      if (/^\s*#/.test(next)) {
        logical += "\\"; // a comment inside a continuation is dropped; the continuation goes on
        continue;
      }
      logical += next;
    }
    const match = /^\s*([A-Za-z]+)\s+(.*)$/s.exec(logical);
    if (!match) throw new Error(`line ${start}: not an instruction: ${first}`);
    const args = (match[2] ?? "").replace(/\s+/g, " ").trim();
    instructions.push({
      keyword: (match[1] ?? "").toUpperCase(),
      args,
      exec: execForm(args),
      line: start,
    });
  }
  return instructions;
}

function execForm(args: string): string[] | undefined {
  if (!args.startsWith("[")) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((part) => typeof part === "string")
      ? parsed
      : undefined;
  } catch {
    return undefined; // Docker falls back to shell form for invalid JSON
  }
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const parts = instruction.args.split(" ").filter((p) => !p.startsWith("--platform"));
      const [image = "", as, name] = parts;
      stages.push({
        image,
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: [],
      });
    } else {
      const stage = stages[stages.length - 1];
      if (!stage) throw new Error(`line ${instruction.line}: ${instruction.keyword} before FROM`);
      stage.instructions.push(instruction);
    }
  }
  return stages;
}

/** The base image a stage ends up on, following `FROM <earlier stage>`. */
function baseImage(stages: Stage[], stage: Stage): string {
  const parent = stages.find((s) => s.name !== undefined && s.name === stage.image);
  return parent && parent !== stage ? baseImage(stages, parent) : stage.image;
}

/** The last value of an instruction in a stage (ENTRYPOINT, CMD, USER, WORKDIR). */
function last(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).pop();
}

/** What `docker run IMAGE ...runArgs` executes: ENTRYPOINT + (runArgs, or CMD without them). */
function runArgv(stage: Stage, runArgs: string[] = []): string[] {
  const entrypoint = last(stage, "ENTRYPOINT")?.exec ?? [];
  const cmd = last(stage, "CMD")?.exec ?? [];
  return [...entrypoint, ...(runArgs.length > 0 ? runArgs : cmd)];
}

function load(name: string): { stages: Stage[]; final: Stage; instructions: Instruction[] } {
  const instructions = parseDockerfile(readFileSync(join(ROOT, "containers", name), "utf8"));
  const stages = stagesOf(instructions);
  const final = stages[stages.length - 1];
  if (!final) throw new Error(`${name} has no FROM`);
  return { stages, final, instructions };
}

function runCommands(stage: Stage): string {
  return stage.instructions
    .filter((i) => i.keyword === "RUN")
    .map((i) => i.args)
    .join("\n");
}

function ignoredPatterns(dockerfile: string): string[] {
  return readFileSync(join(ROOT, "containers", `${dockerfile}.dockerignore`), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

const packageJson = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  bin: Record<string, string>;
  dependencies: Record<string, string>;
};

// --- the parser itself -----------------------------------------------------------------------

describe("the Dockerfile parser", () => {
  it("joins continuations, drops comments inside them, and tells exec from shell form", () => {
    const parsed = parseDockerfile(
      [
        "# syntax=docker/dockerfile:1",
        "from node:20 as build",
        "RUN apt-get update \\",
        "    # a comment in the middle",
        "    && apt-get install -y x",
        "",
        'ENTRYPOINT ["node", "a.js"]',
        "CMD [not json]",
        'CMD ["b"]',
      ].join("\n"),
    );
    expect(parsed.map(({ keyword, args, exec, line }) => ({ keyword, args, exec, line }))).toEqual([
      { keyword: "FROM", args: "node:20 as build", exec: undefined, line: 2 },
      { keyword: "RUN", args: "apt-get update && apt-get install -y x", exec: undefined, line: 3 },
      { keyword: "ENTRYPOINT", args: '["node", "a.js"]', exec: ["node", "a.js"], line: 7 },
      { keyword: "CMD", args: "[not json]", exec: undefined, line: 8 },
      { keyword: "CMD", args: '["b"]', exec: ["b"], line: 9 },
    ]);
    const [stage] = stagesOf(parsed);
    expect(stage?.name).toBe("build");
    expect(runArgv(stage!)).toEqual(["node", "a.js", "b"]);
    expect(runArgv(stage!, ["c"])).toEqual(["node", "a.js", "c"]);
  });
});

// --- the train image's build -------------------------------------------------------------------------------

describe("train.Dockerfile", () => {
  const name = "train.Dockerfile";
  const { stages, final, instructions } = load(name);

  it("runs the code-package bootstrap, in exec form, as a non-root user", () => {
    const entrypoint = last(final, "ENTRYPOINT");
    expect(entrypoint?.exec).toEqual([...TRAIN_IMAGE_ENTRYPOINT]);
    expect(last(final, "CMD")?.exec).toBeDefined();
    expect(final.instructions.map((i) => `${i.keyword} ${i.args}`)).toContain(
      `COPY ${TRAIN_IMAGE_BUNDLE} ./train-bootstrap.mjs`,
    );
    expect(existsSync(join(ROOT, TRAIN_IMAGE_BUNDLE))).toBe(true);
    expect(last(final, "WORKDIR")?.args).toBe("/app");
    expect(entrypoint?.exec?.[1]).toBe("/app/train-bootstrap.mjs");
    const user = last(final, "USER")?.args;
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user?.split(":")[0]);
  });

  it("holds no pipeline code: the dependencies' manifests and the bootstrap only", () => {
    const copies = final.instructions
      .filter((i) => i.keyword === "COPY" && !i.args.includes("--from="))
      .flatMap((i) => i.args.split(" ").slice(0, -1));
    expect(copies.sort()).toEqual(["package-lock.json", "package.json", TRAIN_IMAGE_BUNDLE].sort());
    // The image's tag hashes what it holds (package.json's dependencies are the lockfile's).
    expect([...IMAGES.train.inputs].sort()).toEqual(
      [
        `containers/${name}`,
        `containers/${name}.dockerignore`,
        ...copies.filter((c) => c !== "package.json"),
      ].sort(),
    );
  });

  it("installs production dependencies from the lockfile", () => {
    const deps = stages.find((s) => runCommands(s).includes("npm ci"));
    expect(runCommands(deps!)).toMatch(/npm ci --omit=dev/);
    const copies = deps!.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args);
    expect(copies).toContain("package.json package-lock.json ./");
    expect(final.instructions.map((i) => `${i.keyword} ${i.args}`)).toContain(
      `COPY --from=${deps!.name} /app/node_modules ./node_modules`,
    );
  });

  it("uses pinned base images, COPY sources that exist, and no downloads by ADD", () => {
    for (const stage of stages) {
      const image = baseImage(stages, stage);
      expect(image).toMatch(/:[\w.-]+$/);
      expect(image).not.toMatch(/:latest$/);
    }
    for (const instruction of instructions) {
      expect(instruction.keyword).not.toBe("ADD");
      if (instruction.keyword !== "COPY" || instruction.args.includes("--from=")) continue;
      const parts = instruction.args.split(" ").filter((p) => !p.startsWith("--"));
      for (const source of parts.slice(0, -1))
        expect(existsSync(join(ROOT, source)), source).toBe(true);
    }
    for (const stage of stages) {
      const run = runCommands(stage);
      if (run.includes("apt-get install")) {
        expect(run).toContain("--no-install-recommends");
        expect(run).toContain("rm -rf /var/lib/apt/lists/*");
      }
    }
  });

  it("sends the manifests and the bootstrap as the build context, nothing else", () => {
    expect(ignoredPatterns(name)).toEqual([
      "*",
      "!package.json",
      "!package-lock.json",
      `!${TRAIN_IMAGE_BUNDLE}`,
    ]);
  });
});

// --- the train image -----------------------------------------------------------------------------

describe("the train image", () => {
  const { stages, final } = load("train.Dockerfile");

  it("runs on CUDA 11.8 with cuDNN 8, with Node copied from the official image", () => {
    expect(stages.map((s) => [s.image, s.name])).toEqual([
      ["node:24-bookworm-slim", "node"],
      ["nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", "base"],
      ["base", "deps"],
      ["base", "train"],
    ]);
    expect(baseImage(stages, final)).toBe("nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04");
    const base = stages.find((s) => s.name === "base")!;
    expect(base.instructions.map((i) => `${i.keyword} ${i.args}`)).toContain(
      "COPY --from=node /usr/local/bin/node /usr/local/bin/node",
    );
  });

  it("adds tfjs-node-gpu at the version of the project's tfjs, without dev dependencies", () => {
    const deps = stages.find((s) => s.name === "deps")!;
    const tfjs = packageJson.dependencies["@tensorflow/tfjs"];
    expect(runCommands(deps)).toContain(
      `npm install --no-save --omit=dev @tensorflow/tfjs-node-gpu@${tfjs}`,
    );
    // Installed after npm ci, which would otherwise remove it again.
    expect(runCommands(deps).indexOf("npm ci")).toBeLessThan(
      runCommands(deps).indexOf("tfjs-node-gpu"),
    );
  });

  it("runs `pipeline train --compute local` by default", () => {
    expect(last(final, "CMD")?.exec).toEqual([...TRAIN_IMAGE_COMMAND]);
    expect(runArgv(final)).toEqual([...TRAIN_IMAGE_ENTRYPOINT, "train", "--compute", "local"]);
  });

  it("runs what the Batch job definition and SubmitJob ask of it", () => {
    const settings = resolveBatchSettings({ queue: "gpu", image: "mlops-train:1" }, {});
    const definitionCommand = registerJobDefinitionInput(trainJobDefinitionSpec(settings))
      .containerProperties?.command;
    const jobCommand = trainJobCommand({
      runId: "run-1",
      storeUrl: "s3://bucket/prefix",
      backend: "node-gpu",
      args: ["--epochs", "2"],
    });
    // Batch's command replaces CMD and keeps the ENTRYPOINT: the image's default is its prefix.
    const cmd = last(final, "CMD")?.exec ?? [];
    expect(definitionCommand?.slice(0, cmd.length)).toEqual(cmd);
    expect(jobCommand.slice(0, cmd.length)).toEqual(cmd);
    expect(runArgv(final, jobCommand)).toEqual([
      ...TRAIN_IMAGE_ENTRYPOINT,
      "train",
      "--compute",
      "local",
      "--backend",
      "node-gpu",
      "--run-id",
      "run-1",
      "--store",
      "s3://bucket/prefix",
      "--epochs",
      "2",
    ]);
    // The GPU backend the job asks for is the one the image installs.
    expect(definitionCommand).toContain("node-gpu");
  });
});

// --- the serve image -----------------------------------------------------------------------------

describe("the serve image", () => {
  const name = "serve.Dockerfile";
  const { stages, final, instructions } = load(name);

  it("is Node and the server's bundle: no CUDA, no npm install, no node_modules", () => {
    expect(stages).toHaveLength(1);
    expect(final.image).toBe("node:24-bookworm-slim");
    expect(instructions.map((i) => i.keyword)).not.toContain("ADD");
    expect(runCommands(final)).not.toMatch(/npm|cuda|tfjs|nvidia|apt-get/i);
    const copies = final.instructions.filter((i) => i.keyword === "COPY").map((i) => i.args);
    expect(copies).toEqual([`${SERVE_IMAGE_BUNDLE} ./serve.js`]);
    expect([...IMAGES.serve.inputs].sort()).toEqual(
      [`containers/${name}`, `containers/${name}.dockerignore`, SERVE_IMAGE_BUNDLE].sort(),
    );
    expect(existsSync(join(ROOT, SERVE_IMAGE_BUNDLE))).toBe(true);
    expect(last(final, "WORKDIR")?.args).toBe("/app");
    const user = last(final, "USER")?.args;
    expect(user).toBeDefined();
    expect(["root", "0"]).not.toContain(user?.split(":")[0]);
  });

  it("serves on 8080 and answers SageMaker's `docker run IMAGE serve`", () => {
    expect(final.instructions.filter((i) => i.keyword === "EXPOSE").map((i) => i.args)).toEqual([
      "8080",
    ]);
    // The entrypoint must not contain `serve` itself, or SageMaker's argument would double it.
    expect(last(final, "ENTRYPOINT")?.exec).not.toContain("serve");
    expect(runArgv(final, ["serve"])).toEqual(["node", "/app/serve.js", "serve"]);
    expect(runArgv(final)).toEqual(["node", "/app/serve.js", "serve"]);
    expect(runCommands(final)).toContain("mkdir -p /opt/ml/model");
  });

  it("sends nothing but the bundle as the build context", () => {
    expect(ignoredPatterns(name)).toEqual(["*", `!${SERVE_IMAGE_BUNDLE}`]);
  });
});
