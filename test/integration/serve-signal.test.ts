/**
 * SIGTERM as SageMaker sends it: a real child process serving a slow model gets the signal while
 * a request is in flight; the request still gets its answer, the request log is flushed, and the
 * process exits 0.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { EventEmitter } from "node:events";
import { serveUntilSignal } from "../../pipeline/serve/serve.ts";
import type { RunningServer } from "../../pipeline/serve/server.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** The child: a stand-in model that takes 600 ms per call, served until a signal. */
const CHILD = `
import { startServer } from ${JSON.stringify(root("pipeline/serve/server.ts"))};
import { serveUntilSignal } from ${JSON.stringify(root("pipeline/serve/serve.ts"))};
import { createRequestLog } from ${JSON.stringify(root("pipeline/serve/request-log.ts"))};
import { createReporter } from ${JSON.stringify(root("pipeline/reporter.ts"))};

const model = {
  config: { runId: "child-run", format: "mlops-session-recs/model@1" },
  async predict(sessions, k) {
    process.stdout.write("predicting\\n");
    await new Promise((r) => setTimeout(r, 600));
    return sessions.map((s) => ({ items: [{ sku: s[0] ?? "none", score: 1 }], unknownSkus: 0, fallback: false }));
  },
};
const server = await startServer({
  model,
  port: 0,
  host: "127.0.0.1",
  requestLog: createRequestLog({ dir: process.argv[2], sampleRate: 1 }),
});
process.stdout.write(JSON.stringify({ url: server.url }) + "\\n");
await serveUntilSignal(server, { reporter: createReporter({ quiet: false, progress: "off" }) });
`;

describe("serveUntilSignal", () => {
  it("finishes the request in flight on SIGTERM, flushes the log and exits 0", async () => {
    const dir = tempDir("mlops-serve-signal-");
    const script = join(dir, "child.mts");
    writeFileSync(script, CHILD);
    const logDir = join(dir, "log");
    const child = spawn(process.execPath, ["--import", "tsx", script, logDir], {
      cwd: root(""),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const exited = once(child, "close") as Promise<[number | null, NodeJS.Signals | null]>;
    const lines: string[] = [];
    let lineArrived: () => void = () => {};
    child.stdout.on("data", (c: Buffer) => {
      lines.push(...c.toString().trim().split("\n"));
      lineArrived();
    });
    child.on("close", () => lineArrived());
    const waitFor = async (test: (line: string) => boolean) => {
      while (!lines.some(test)) {
        if (child.exitCode !== null) throw new Error(`the child exited early: ${stderr}`);
        await new Promise<void>((r) => (lineArrived = r));
      }
      return lines.find(test) as string;
    };
    const { url } = JSON.parse(await waitFor((l) => l.startsWith("{"))) as { url: string };

    const inFlight = fetch(`${url}/invocations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessions: [[hex("a"), hex("b")]] }),
    });
    await waitFor((l) => l === "predicting"); // the request is inside the model call now
    child.kill("SIGTERM");
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(((await response.json()) as { predictions: unknown[] }).predictions).toEqual([
      { items: [{ sku: hex("a"), score: 1 }], unknown_skus: 0, fallback: false },
    ]);
    const [code, signal] = await exited;
    expect({ code, signal, stderr }).toMatchObject({ code: 0, signal: null });
    expect(stderr).toContain("SIGTERM: finishing the requests in flight");

    const [folder] = readdirSync(logDir);
    const csv = readFileSync(join(logDir, folder as string, "served_events.csv"), "utf8");
    expect(csv.trimEnd().split("\n").slice(1)).toHaveLength(2);
  });

  it("exits 1 at once on a second signal while closing", async () => {
    const target = new EventEmitter();
    const codes: number[] = [];
    let release: () => void = () => {};
    const server = {
      close: () => new Promise<void>((resolve) => (release = resolve)),
    } as unknown as RunningServer;
    const stopped = serveUntilSignal(server, {
      target,
      exit: (code) => codes.push(code),
    });
    target.emit("SIGINT");
    target.emit("SIGTERM");
    expect(codes).toEqual([1]);
    release();
    expect(await stopped).toBe("SIGINT");
    expect(codes).toEqual([1, 0]);
    expect(target.listenerCount("SIGTERM") + target.listenerCount("SIGINT")).toBe(0);
  });
});
