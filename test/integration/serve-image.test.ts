/**
 * The serving image's program as the image holds it: the committed bundle
 * (containers/dist/serve.js) copied alone into an empty folder, with no node_modules to fall back
 * on, run as SageMaker runs the container (`serve`, settings from MLOPS_SERVE_* variables), over a
 * real model folder; then stopped with SIGTERM.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModelArtifact, type ModelArtifact } from "../../pipeline/model/artifact.ts";
import { SERVE_IMAGE_BUNDLE } from "../../scripts/bundle.ts";
import { writeTestArtifact } from "../helpers/model-artifact.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const BUNDLE = fileURLToPath(new URL(`../../${SERVE_IMAGE_BUNDLE}`, import.meta.url));
const sku = (i: number) => hex(`image-${i}`);

const dir = tempDir("mlops-serve-image-");
const app = join(dir, "app");
const modelDir = join(dir, "model");
let artifact: ModelArtifact;

beforeAll(async () => {
  mkdirSync(app);
  copyFileSync(BUNDLE, join(app, "serve.js"));
  await writeTestArtifact(modelDir, {
    skus: Array.from({ length: 40 }, (_, i) => sku(i)),
    runId: "run-image",
  });
  artifact = await loadModelArtifact(modelDir);
});

function start(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [join(app, "serve.js"), ...args], {
    cwd: app,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = / on (http:\/\/[\d.]+:\d+) /.exec(stderr);
      if (match) resolve(match[1] as string);
    });
    child.once("close", () => reject(new Error(`the server exited:\n${stderr}`)));
  });
  url.catch(() => {});
  const closed = once(child, "close") as Promise<[number | null]>;
  return { child, url, closed, stderr: () => stderr };
}

describe("the serving image's bundle", () => {
  it("serves a model folder alone, with settings from the environment, until SIGTERM", async () => {
    const server = start(["serve", "--model", modelDir, "--port", "0"], {
      MLOPS_SERVE_MAX_QUEUE: "2",
    });
    const url = await server.url;
    const ping = await fetch(`${url}/ping`);
    expect(ping.status).toBe(200);
    expect(await ping.json()).toMatchObject({ status: "ready", model: { run_id: "run-image" } });

    const sessions = [[sku(3), sku(5)], [sku(7)]];
    const answer = await fetch(`${url}/invocations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessions, k: 4 }),
    });
    expect(answer.status).toBe(200);
    const { predictions } = (await answer.json()) as {
      predictions: { items: { sku: string }[] }[];
    };
    const direct = await artifact.predict(sessions, 4);
    expect(predictions.map((p) => p.items.map((i) => i.sku))).toEqual(
      direct.map((p) => p.items.map((i) => i.sku)),
    );
    // MLOPS_SERVE_MAX_QUEUE=2 reached the server: three sessions are more than it queues.
    const shed = await fetch(`${url}/invocations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessions: [[sku(1)], [sku(2)], [sku(3)]] }),
    });
    expect(shed.status).toBe(503);
    expect(shed.headers.get("retry-after")).toBe("1");

    server.child.kill("SIGTERM");
    const [code] = await server.closed;
    expect(code).toBe(0);
    expect(server.stderr()).toContain("SIGTERM: finishing the requests in flight");
  });

  it("exits 2 and says what is wrong for an unknown flag, a bad setting or another command", async () => {
    for (const [args, message] of [
      [["serve", "--bogus"], /Unknown option '--bogus'/],
      [["serve", "--max-queue", "0"], /serve\.maxQueue/],
      [["train"], /unexpected argument "train": this image only serves/],
    ] as const) {
      const run = start([...args]);
      const [code] = await run.closed;
      expect(code, args.join(" ")).toBe(2);
      expect(run.stderr()).toMatch(message);
    }
  });

  it("exits 2 and names the folder when it holds no model", async () => {
    const run = start(["serve", "--model", join(dir, "nothing-here"), "--port", "0"]);
    const [code] = await run.closed;
    expect(code).toBe(2);
    expect(run.stderr()).toMatch(/error: model artifact incomplete: cannot read .*nothing-here/);
  });
});
