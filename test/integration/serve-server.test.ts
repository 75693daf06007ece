/**
 * The inference server over real HTTP on loopback, with a real (tiny, untrained) model artifact
 * written as `pipeline train` writes it: the SageMaker routes, every kind of bad input, batching,
 * failures and graceful shutdown; and a folder in the format before the plain runtime (tfjs-layers,
 * model@1) still served with the rankings and scores it had, as a model in production must be.
 */
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { request, type IncomingMessage } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModelArtifact, type ModelArtifact } from "../../pipeline/model/artifact.ts";
import type { SessionPrediction } from "../../pipeline/model/predictor.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import type { Predictor } from "../../pipeline/serve/batcher.ts";
import { startModelServer } from "../../pipeline/serve/serve.ts";
import { startServer, type RunningServer, type ServedModel } from "../../pipeline/serve/server.ts";
import { writeTestArtifact } from "../helpers/model-artifact.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const ITEMS = 30;
const sku = (i: number) => hex(`p${i}`);
const LEGACY_MODEL_DIR = fileURLToPath(new URL("../fixtures/legacy-model", import.meta.url));

/** The artifact folder every test serves, and the model loaded from it. */
const modelDir = join(tempDir("mlops-serve-"), "model");
let artifact: ModelArtifact;
const servers: RunningServer[] = [];

beforeAll(async () => {
  // p0 is the most popular item (the fallback order is known).
  await writeTestArtifact(modelDir, {
    skus: Array.from({ length: ITEMS }, (_, i) => sku(i)),
    runId: "run-serve-test",
  });
  artifact = await loadModelArtifact(modelDir);
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(
  model: ServedModel | Promise<ServedModel>,
  options: Partial<Parameters<typeof startServer>[0]> = {},
): Promise<RunningServer> {
  const server = await startServer({ model, port: 0, host: "127.0.0.1", ...options });
  servers.push(server);
  return server;
}

async function invoke(
  server: RunningServer,
  body: unknown,
  headers: Record<string, string> = { "content-type": "application/json" },
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(`${server.url}/invocations`, {
    method: "POST",
    headers,
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    json: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

interface WirePrediction {
  items: { sku: string; score: number }[];
  unknown_skus: number;
  fallback: boolean;
}

const predictionsOf = (json: Record<string, unknown>) => json.predictions as WirePrediction[];

function expectSame(wire: WirePrediction[], direct: SessionPrediction[]): void {
  expect(wire).toHaveLength(direct.length);
  wire.forEach((w, i) => {
    const d = direct[i] as SessionPrediction;
    expect(w.items.map((x) => x.sku)).toEqual(d.items.map((x) => x.sku));
    w.items.forEach((x, j) => expect(x.score).toBeCloseTo(d.items[j]?.score as number, 6));
    expect(w.unknown_skus).toBe(d.unknownSkus);
    expect(w.fallback).toBe(d.fallback);
  });
}

/** A predictor that counts its calls and can be slowed down or broken. */
function instrumented(base: Predictor, options: { delayMs?: number; fail?: boolean } = {}) {
  const calls: number[] = [];
  let started: () => void = () => {};
  const firstCall = new Promise<void>((resolve) => (started = resolve));
  const model: ServedModel = {
    config: artifact.config,
    async predict(sessions, k) {
      calls.push(sessions.length);
      started();
      if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
      if (options.fail) throw new Error("weights are NaN");
      return base.predict(sessions, k);
    },
  };
  return { model, calls, firstCall };
}

describe("GET /ping", () => {
  it("answers 503 while the model loads and 200 once it is loaded", async () => {
    let loaded: (model: ServedModel) => void = () => {};
    const server = await serve(new Promise<ServedModel>((resolve) => (loaded = resolve)));
    const before = await fetch(`${server.url}/ping`);
    expect(before.status).toBe(503);
    expect(await before.json()).toEqual({ status: "loading" });
    const early = await invoke(server, { sessions: [[sku(1)]] });
    expect(early.status).toBe(503);
    expect(early.json.error).toMatchObject({ code: "model_not_ready" });

    loaded(artifact);
    await server.ready;
    const after = await fetch(`${server.url}/ping`);
    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({
      status: "ready",
      model: { run_id: "run-serve-test" },
    });
    expect((await fetch(`${server.url}/ping`, { method: "HEAD" })).status).toBe(200);
  });

  it("stays 503 and says why when the model fails to load", async () => {
    const reporter = silentReporter();
    const server = await serve(Promise.reject(new Error("weights.bin is truncated")), {
      reporter,
    });
    await expect(server.ready).rejects.toThrow("truncated");
    const ping = await fetch(`${server.url}/ping`);
    expect(ping.status).toBe(503);
    // A code and a message for the client; the error's text (a path, a stack) only in the log.
    const body = await ping.text();
    expect(JSON.parse(body)).toEqual({
      status: "failed",
      error: { code: "model_load_failed", message: expect.stringContaining("log") as string },
    });
    expect(body).not.toContain("weights.bin");
    const invocation = await invoke(server, { sessions: [[sku(1)]] });
    expect(invocation.status).toBe(503);
    expect(invocation.json.error).toMatchObject({ code: "model_load_failed" });
    expect(JSON.stringify(invocation.json)).not.toContain("weights.bin");
    expect(reporter.warnings.join("\n")).toContain("weights.bin is truncated");
  });
});

describe("POST /invocations", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve(artifact, { maxSessions: 5, maxK: 20, maxBodyBytes: 4096 });
  });

  it("serves a model loaded from its artifact folder, as production does", async () => {
    const fromFolder = await startModelServer({
      modelDir,
      port: 0,
      host: "127.0.0.1",
      modelVersion: "v7",
    });
    servers.push(fromFolder);
    await fromFolder.ready;
    const sessions = [
      [sku(3), sku(4)],
      [sku(10)],
      [sku(1), sku(2), sku(3), sku(4), sku(5), sku(6)],
    ];
    const { status, json } = await invoke(fromFolder, { sessions, k: 7 });
    expect(status).toBe(200);
    expectSame(predictionsOf(json), await artifact.predict(sessions, 7));
    expect(json.model).toEqual({
      run_id: "run-serve-test",
      format: "mlops-session-recs/model@2",
      version: "v7",
    });
  });

  it("serves a model@1 folder (tfjs-layers) with the top-5 and scores it had before the upgrade", async () => {
    const expected = JSON.parse(
      await readFile(join(LEGACY_MODEL_DIR, "expected.json"), "utf8"),
    ) as { k: number; sessions: string[][]; predictions: SessionPrediction[] };
    const legacy = await startModelServer({
      modelDir: LEGACY_MODEL_DIR,
      port: 0,
      host: "127.0.0.1",
    });
    servers.push(legacy);
    await legacy.ready;
    // All of them: sessions longer than the model's maxLen, one SKU, an unknown SKU, a fallback.
    const { status, json } = await invoke(legacy, {
      sessions: expected.sessions,
      k: expected.k,
    });
    expect(status).toBe(200);
    expect(json.model).toEqual({ run_id: "legacy-fixture", format: "mlops-session-recs/model@1" });
    const wire = predictionsOf(json);
    expect(wire).toHaveLength(expected.predictions.length);
    wire.forEach((w, i) => {
      const before = expected.predictions[i] as SessionPrediction;
      expect(
        w.items.map((x) => x.sku),
        `session ${i}`,
      ).toEqual(before.items.map((x) => x.sku));
      w.items.forEach((x, j) => {
        const score = before.items[j]?.score as number;
        expect(Math.abs(x.score - score), `session ${i} item ${j}`).toBeLessThanOrEqual(1e-6);
      });
      expect(w.unknown_skus).toBe(before.unknownSkus);
      expect(w.fallback).toBe(before.fallback);
    });
  });

  it("answers the TF Serving instances format like the sessions format", async () => {
    const sessions = [[sku(5)], [sku(6), sku(7)]];
    const a = await invoke(server, { sessions, k: 4 });
    const b = await invoke(server, { instances: [[sku(5)], { session: [sku(6), sku(7)] }], k: 4 });
    expect(b.status).toBe(200);
    expect(b.json.predictions).toEqual(a.json.predictions);
    expectSame(predictionsOf(b.json), await artifact.predict(sessions, 4));
  });

  it("counts unknown SKUs and falls back to popularity when nothing is known", async () => {
    const { status, json } = await invoke(server, {
      sessions: [[sku(2), "not-a-sku", hex("never-seen")], ["nope"], []],
      k: 3,
    });
    expect(status).toBe(200);
    const [partly, unknown, empty] = predictionsOf(json) as WirePrediction[];
    expect(partly).toMatchObject({ unknown_skus: 2, fallback: false });
    expect(partly?.items).toHaveLength(3);
    expect(unknown).toMatchObject({ unknown_skus: 1, fallback: true });
    expect(unknown?.items.map((i) => i.sku)).toEqual([sku(0), sku(1), sku(2)]);
    expect(empty).toMatchObject({ unknown_skus: 0, fallback: true });
    expect(json.model).toMatchObject({ run_id: "run-serve-test" });
  });

  it("defaults k to 10 and accepts a charset", async () => {
    const { status, json } = await invoke(
      server,
      { sessions: [[sku(1)]] },
      { "content-type": "application/json; charset=utf-8" },
    );
    expect(status).toBe(200);
    expect(predictionsOf(json)[0]?.items).toHaveLength(10);
  });

  const errorOf = (json: Record<string, unknown>) =>
    json.error as { code: string; message: string; request_id: string };

  it.each([
    [
      "invalid JSON, with its position",
      '{"sessions": [["a"]],, "k": 3}',
      400,
      "invalid_json",
      "line 1, column 22",
    ],
    ["an empty body", "", 400, "empty_body", "empty"],
    [
      "too many sessions",
      { sessions: [[], [], [], [], [], []] },
      400,
      "too_many_sessions",
      "6 sessions",
    ],
    [
      "a non-string SKU",
      { sessions: [["a"], ["b"], [], ["c", "d", 5]] },
      400,
      "invalid_sku",
      "sessions[3][2]",
    ],
    ["k of 0", { sessions: [["a"]], k: 0 }, 400, "invalid_k", "from 1 to 20"],
    ["k over maxK", { sessions: [["a"]], k: 21 }, 400, "invalid_k", "got number 21"],
    ["no sessions field", { k: 3 }, 400, "invalid_request", '"sessions"'],
  ])("refuses %s with a 4xx naming it", async (_name, body, status, code, text) => {
    const response = await invoke(server, body);
    expect(response.status).toBe(status);
    expect(errorOf(response.json)).toMatchObject({ code });
    expect(errorOf(response.json).message).toContain(text);
    expect(errorOf(response.json).request_id).toBe(response.headers.get("x-request-id"));
  });

  it("refuses a wrong or missing content type with 415", async () => {
    const plain = await invoke(server, { sessions: [["a"]] }, { "content-type": "text/csv" });
    expect(plain.status).toBe(415);
    expect(errorOf(plain.json).message).toContain('"text/csv"');
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      body: new Blob(['{"sessions": [["a"]]}']), // a Blob without a type sends no Content-Type
    });
    expect(response.status).toBe(415);
  });

  it("refuses a declared body over the limit with 413 before reading it", async () => {
    const big = JSON.stringify({ sessions: [["a".repeat(5000)]] });
    const response = await invoke(server, big);
    expect(response.status).toBe(413);
    expect(errorOf(response.json)).toMatchObject({ code: "payload_too_large" });
    expect(errorOf(response.json).message).toContain(`${Buffer.byteLength(big)} bytes`);
  });

  it("stops reading a chunked body at the limit and answers 413", async () => {
    const { status, body, sent } = await new Promise<{
      status: number;
      body: string;
      sent: number;
    }>((resolve, reject) => {
      let sent = 0;
      const req = request(
        `${server.url}/invocations`,
        { method: "POST", headers: { "content-type": "application/json" } },
        (res) => {
          let text = "";
          res.on("data", (c: Buffer) => (text += c.toString()));
          res.on("end", () => {
            clearInterval(pump);
            resolve({ status: res.statusCode ?? 0, body: text, sent });
          });
        },
      );
      req.on("error", (error) => {
        clearInterval(pump);
        reject(error);
      });
      req.write('{"sessions": [["');
      // A body that never ends: the server must answer without waiting for the end.
      const pump = setInterval(() => {
        if (req.destroyed) return;
        req.write("a".repeat(1024));
        sent += 1024;
      }, 2);
    });
    expect(status).toBe(413);
    expect(JSON.parse(body).error.code).toBe("payload_too_large");
    expect(sent).toBeLessThan(1024 * 1024);
  });

  it("answers wrong methods with 405 and unknown paths with 404", async () => {
    const get = await fetch(`${server.url}/invocations`);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(((await get.json()) as Record<string, unknown>).error).toMatchObject({
      code: "method_not_allowed",
    });
    const post = await fetch(`${server.url}/ping`, { method: "POST", body: "{}" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const missing = await fetch(`${server.url}/predict`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain(
      "/ping and POST /invocations",
    );
  });

  it("answers a malformed HTTP request with a JSON 400", async () => {
    const url = new URL(server.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, "connect");
    socket.end("NOT HTTP AT ALL\r\n\r\n");
    let text = "";
    for await (const chunk of socket) text += (chunk as Buffer).toString();
    expect(text).toMatch(/^HTTP\/1.1 400 Bad Request/);
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error.code).toBe("bad_request");
  });

  it("keeps serving after all of that", async () => {
    expect((await invoke(server, { sessions: [[sku(1)]], k: 2 })).status).toBe(200);
    const stats = server.stats();
    expect(stats.responses[500] ?? 0).toBe(0);
  });
});

describe("model failures", () => {
  it("answer 500 with a request id that is also in the log, and the server keeps going", async () => {
    const reporter = silentReporter();
    const broken = instrumented(artifact, { fail: true });
    const server = await serve(broken.model, { reporter });
    const response = await invoke(server, { sessions: [[sku(1)]] });
    expect(response.status).toBe(500);
    const error = response.json.error as { code: string; request_id: string; message: string };
    expect(error.code).toBe("prediction_failed");
    expect(error.message).toContain(error.request_id);
    expect(reporter.warnings.join("\n")).toContain(`request ${error.request_id}`);
    expect(reporter.warnings.join("\n")).toContain("weights are NaN");
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
  });
});

describe("batching", () => {
  it("answers concurrent requests with fewer model calls, each with its own predictions", async () => {
    const counted = instrumented(artifact);
    const server = await serve(counted.model, { batch: { maxBatch: 64, maxWaitMs: 10 } });
    const requests = Array.from({ length: 24 }, (_, r) =>
      Array.from({ length: 1 + (r % 3) }, (_, s) =>
        Array.from({ length: 1 + ((r + s) % 6) }, (_, j) => sku((r * 7 + s * 3 + j) % ITEMS)),
      ),
    );
    const answers = await Promise.all(
      requests.map((sessions, r) => invoke(server, { sessions, k: 2 + (r % 5) })),
    );
    expect(counted.calls.length).toBeLessThan(requests.length);
    expect(counted.calls.reduce((a, b) => a + b, 0)).toBe(requests.flat().length);
    for (const [r, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expectSame(
        predictionsOf(answer.json),
        await artifact.predict(requests[r] as string[][], 2 + (r % 5)),
      );
    }
  });

  it("splits a request larger than maxBatch", async () => {
    const counted = instrumented(artifact);
    const server = await serve(counted.model, { batch: { maxBatch: 4, maxWaitMs: 0 } });
    const sessions = Array.from({ length: 10 }, (_, i) => [sku(i), sku(i + 1)]);
    const { status, json } = await invoke(server, { sessions, k: 3 });
    expect(status).toBe(200);
    expect(counted.calls).toEqual([4, 4, 2]);
    expectSame(predictionsOf(json), await artifact.predict(sessions, 3));
  });
});

describe("under load", () => {
  /** Opens a raw connection; resolves with everything the server sent once it closes it. */
  async function rawConnection(server: RunningServer) {
    const url = new URL(server.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, "connect");
    let text = "";
    socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const closed = once(socket, "close").then(() => text);
    return { socket, closed };
  }

  it("cuts off a client that trickles its headers, with a JSON 408", async () => {
    const server = await serve(artifact, { headersTimeoutMs: 200, requestTimeoutMs: 1000 });
    const { socket, closed } = await rawConnection(server);
    const started = Date.now();
    socket.write("POST /invocations HTTP/1.1\r\nHost: localhost\r\n");
    const trickle = setInterval(() => socket.writable && socket.write("x-slow: 1\r\n"), 50);
    const text = await closed;
    clearInterval(trickle);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(text).toMatch(/^HTTP\/1.1 408 Request Timeout/);
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4)).error.code).toBe("request_timeout");
  });

  it("cuts off a body that has not arrived within the request timeout", async () => {
    const server = await serve(artifact, { headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const { socket, closed } = await rawConnection(server);
    const started = Date.now();
    socket.write(
      "POST /invocations HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    );
    const text = await closed;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(text).toMatch(/^HTTP\/1.1 408/);
  });

  it("sheds requests beyond the queue with 503 and Retry-After while /ping stays fast", async () => {
    const slow = instrumented(artifact, { delayMs: 150 });
    const server = await serve(slow.model, { maxQueue: 4, batch: { maxBatch: 2, maxWaitMs: 0 } });
    const requests = Array.from({ length: 16 }, (_, i) => invoke(server, { sessions: [[sku(i)]] }));
    await slow.firstCall;
    const pinged = Date.now();
    expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    expect(Date.now() - pinged).toBeLessThan(100);
    const answers = await Promise.all(requests);
    const shed = answers.filter((a) => a.status === 503);
    const served = answers.filter((a) => a.status === 200);
    expect(shed.length + served.length).toBe(16);
    // At most the first call's two sessions plus a full queue of four get through.
    expect(served.length).toBeGreaterThanOrEqual(4);
    expect(served.length).toBeLessThanOrEqual(6);
    for (const answer of shed) {
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(answer.json.error).toMatchObject({ code: "overloaded" });
    }
    expect(server.stats().shed).toBe(shed.length);
    // Once the queue drains, requests are served again.
    expect((await invoke(server, { sessions: [[sku(1)]] })).status).toBe(200);
  });

  it("closes connections beyond maxConnections as they are accepted", async () => {
    const server = await serve(artifact, { maxConnections: 2 });
    const held = [await rawConnection(server), await rawConnection(server)];
    const extra = await rawConnection(server);
    expect(await extra.closed).toBe("");
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    await new Promise((r) => setTimeout(r, 20)); // the server sees the closes
    expect((await invoke(server, { sessions: [[sku(1)]] })).status).toBe(200);
  });

  it("tells clients how long it keeps an idle connection", async () => {
    const server = await serve(artifact);
    const url = new URL(`${server.url}/ping`);
    const req = request(url, { headers: { connection: "keep-alive" } });
    req.end();
    const [response] = (await once(req, "response")) as [IncomingMessage];
    response.resume();
    expect(response.headers["keep-alive"]).toBe("timeout=75");
    response.socket.destroy();
  });
});

describe("close()", () => {
  it("finishes the request in flight, then stops accepting", async () => {
    const slow = instrumented(artifact, { delayMs: 300 });
    const server = await startServer({ model: slow.model, port: 0, host: "127.0.0.1" });
    const inFlight = invoke(server, { sessions: [[sku(1)]], k: 2 });
    await slow.firstCall; // the request is inside the model now
    const closed = server.close();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(predictionsOf(answer.json)[0]?.items).toHaveLength(2);
    await closed;
    await expect(fetch(`${server.url}/ping`)).rejects.toThrow();
    await server.close(); // idempotent
  });

  it("gives up on a request that outlives the shutdown timeout", async () => {
    const reporter = silentReporter();
    const hung: ServedModel = { predict: () => new Promise(() => {}) };
    const server = await startServer({
      model: hung,
      port: 0,
      host: "127.0.0.1",
      shutdownTimeoutMs: 100,
      reporter,
    });
    const stuck = invoke(server, { sessions: [["a"]] });
    await new Promise((r) => setTimeout(r, 50));
    await server.close();
    await expect(stuck).rejects.toThrow();
    expect(reporter.warnings.join("\n")).toContain("1 request(s) still running after 100 ms");
  });
});

describe("settings", () => {
  it("refuse a bad limit or batch setting before listening", async () => {
    await expect(startServer({ model: artifact, port: 0, maxK: 0 })).rejects.toThrow(/maxK/);
    await expect(
      startServer({ model: artifact, port: 0, batch: { maxBatch: 2.5, maxWaitMs: 1 } }),
    ).rejects.toThrow(/batch.maxBatch/);
    await expect(
      startServer({ model: artifact, port: 0, batch: { maxBatch: 8, maxWaitMs: -1 } }),
    ).rejects.toThrow(/batch.maxWaitMs/);
    await expect(startServer({ model: artifact, port: 0, defaultK: 50, maxK: 20 })).rejects.toThrow(
      /above maxK/,
    );
    await expect(startServer({ model: artifact, port: 0, maxQueue: 0 })).rejects.toThrow(
      /maxQueue/,
    );
    await expect(
      startServer({ model: artifact, port: 0, headersTimeoutMs: 5000, requestTimeoutMs: 1000 }),
    ).rejects.toThrow(/headersTimeoutMs \(5000\) is above requestTimeoutMs/);
  });

  it("say which port is taken", async () => {
    const first = await serve(artifact);
    await expect(
      startServer({ model: artifact, port: first.port, host: "127.0.0.1" }),
    ).rejects.toThrow(new RegExp(`127.0.0.1:${first.port}: EADDRINUSE`));
  });
});
