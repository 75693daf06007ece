/**
 * `--target local`: the embedded stand-in for a SageMaker endpoint. The candidate's artifact is
 * served by the real inference server (same container contract) on a loopback port, `/ping` is
 * awaited and `/invocations` is smoke-tested with real test sessions; only then does the registry
 * point at it. When the smoke test fails, the previous production model is brought up and
 * smoke-tested the same way (the rollback), and the promotion fails.
 *
 * The endpoint is stopped once verified: `npx pipeline serve` then serves whatever the registry
 * says is in production, as a deployment on a server would.
 */
import { PipelineError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import { startModelServer } from "../serve/serve.ts";

export interface SmokeResult {
  url: string;
  sessions: number;
  k: number;
  /** Milliseconds from start to /ping answering 200. */
  readyMs: number;
}

async function smokeTest(url: string, sessions: string[][], k: number): Promise<void> {
  const response = await fetch(`${url}/invocations`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sessions, k }),
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`/invocations answered ${response.status}: ${text.slice(0, 300)}`);
  }
  const body = JSON.parse(text) as {
    predictions?: { items?: { sku?: unknown; score?: unknown }[] }[];
  };
  const predictions = body.predictions ?? [];
  if (predictions.length !== sessions.length) {
    throw new Error(`expected ${sessions.length} predictions, got ${predictions.length}`);
  }
  predictions.forEach((p, i) => {
    const items = p.items ?? [];
    const skus = new Set(items.map((item) => item.sku));
    const valid = items.every(
      (item) =>
        typeof item.sku === "string" &&
        typeof item.score === "number" &&
        Number.isFinite(item.score),
    );
    if (items.length !== k || skus.size !== k || !valid) {
      throw new Error(`session ${i}: expected ${k} distinct SKUs with finite scores`);
    }
  });
}

/** Serves `modelDir` on a loopback port, waits for /ping, smoke-tests it and stops it. */
export async function verifyLocalEndpoint(options: {
  modelDir: string;
  sessions: string[][];
  k?: number;
  reporter: Reporter;
}): Promise<SmokeResult> {
  const k = options.k ?? 10;
  const started = performance.now();
  const server = await startModelServer({
    modelDir: options.modelDir,
    port: 0,
    host: "127.0.0.1",
    reporter: options.reporter,
  });
  try {
    await server.ready;
    const ping = await fetch(`${server.url}/ping`);
    if (ping.status !== 200) throw new Error(`/ping answered ${ping.status}`);
    const readyMs = performance.now() - started;
    await smokeTest(server.url, options.sessions, k);
    return { url: server.url, sessions: options.sessions.length, k, readyMs };
  } catch (error) {
    throw new PipelineError(
      `the local endpoint for ${options.modelDir} failed its smoke test: ${(error as Error).message}`,
      1,
    );
  } finally {
    await server.close();
  }
}
