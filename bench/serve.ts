/**
 * Inference-server benchmark: the real server with a real model artifact of the default (hybrid)
 * shape — a tied GRU(64) blended with session-kNN, co-occurrence and repeats over a 10k-item
 * vocabulary and 30,000 train sessions, random weights and random heavy-tailed sessions: speed
 * depends on the shapes and the index's size, not on training — against a no-op server that
 * answers /invocations with a constant small JSON, both on the same loopback port in the same run,
 * loaded by autocannon with realistic sessions (1–20 SKUs, popularity-weighted, seeded). Prints
 * requests/s and p50/p99 latency at each connection count, a fixed-rate run, and the ratios to
 * the no-op server. Asserts nothing.
 *
 *   npx tsx bench/serve.ts [--duration 5] [--connections 1,10,100] [--rate 1000] [--rate-duration 10]
 *                          [--soak 0] [--vocab 10000] [--train-sessions 30000] [--k 10]
 *                          [--sessions-per-request 1] [--max-batch 32] [--max-wait-ms 0]
 *                          [--rate-per-connection 5]
 *
 * --soak N adds an N-second run at --rate against the model server, reporting errors and the
 * server's RSS and V8 heap at the start and end (and the peak RSS of samples taken every 5 s).
 *
 * Each server runs in its own child process, so the load generator does not share its event loop.
 * Latencies are each response's time as autocannon's client measured it (hrtime, sub-millisecond),
 * collected from its `response` events rather than its millisecond histogram.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { markdownTable } from "markdown-table";
import { MODEL_FORMAT, saveModelArtifact } from "../pipeline/model/artifact.ts";
import type { BlendSpec } from "../pipeline/model/blend.ts";
import { NEIGHBOUR_DEFAULTS } from "../pipeline/model/neighbours.ts";
import { netWeightSpecs, type NetConfig } from "../pipeline/model/net.ts";
import { Vocabulary } from "../pipeline/model/vocabulary.ts";
import { Rng, cumulative, seededFloats } from "../pipeline/prng.ts";
import { sessionBlock } from "../pipeline/model/sessions.ts";
import { SERVE_LIMIT_DEFAULTS } from "../pipeline/serve/serve-settings.ts";

const { values } = parseArgs({
  options: {
    child: { type: "string" },
    port: { type: "string", default: "0" },
    model: { type: "string", default: "" },
    duration: { type: "string", default: "5" },
    connections: { type: "string", default: "1,10,100" },
    rate: { type: "string", default: "1000" },
    "rate-duration": { type: "string", default: "10" },
    soak: { type: "string", default: "0" },
    vocab: { type: "string", default: "10000" },
    "train-sessions": { type: "string", default: "30000" },
    k: { type: "string", default: "10" },
    "sessions-per-request": { type: "string", default: "1" },
    "rate-per-connection": { type: "string", default: "5" },
    "max-batch": { type: "string", default: String(SERVE_LIMIT_DEFAULTS.maxBatch) },
    "max-wait-ms": { type: "string", default: String(SERVE_LIMIT_DEFAULTS.batchWaitMs) },
  },
});

/** What a server child reports when asked. */
interface ChildReport {
  rss: number;
  /** V8 heap in use: growth over a soak would be a leak. */
  heapUsed: number;
  calls: number;
  sessions: number;
}

// ---------------------------------------------------------------------------------------------
// Child: one server, driven over IPC.

function memory(): Pick<ChildReport, "rss" | "heapUsed"> {
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function runChild(kind: string): Promise<void> {
  const port = Number(values.port);
  let report: () => ChildReport;
  let close: () => Promise<void>;
  if (kind === "noop") {
    const body = JSON.stringify({ predictions: [{ items: [], unknown_skus: 0, fallback: true }] });
    const server = createServer((req, res) => {
      // Read the body as the real server does, then answer without any model.
      req.resume();
      req.on("end", () => {
        res.writeHead(200, {
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(body)),
        });
        res.end(body);
      });
    });
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    report = () => ({ ...memory(), calls: 0, sessions: 0 });
    close = () => new Promise((resolve) => server.close(() => resolve()));
  } else {
    const { startModelServer } = await import("../pipeline/serve/serve.ts");
    const { createReporter } = await import("../pipeline/reporter.ts");
    const server = await startModelServer({
      modelDir: values.model as string,
      port,
      host: "127.0.0.1",
      batch: { maxBatch: Number(values["max-batch"]), maxWaitMs: Number(values["max-wait-ms"]) },
      reporter: createReporter({ quiet: false, progress: "off" }),
    });
    await server.ready;
    report = () => {
      const { batching } = server.stats();
      return {
        ...memory(),
        calls: batching.calls,
        sessions: batching.sessions,
      };
    };
    close = () => server.close();
  }
  process.on("message", (message: string) => {
    if (message === "report") process.send?.(report());
    if (message === "stop") void close().then(() => process.exit(0));
  });
  process.send?.("ready");
}

// ---------------------------------------------------------------------------------------------
// Parent: build the model, start each server in turn on the same port, load it.

interface AutocannonResult {
  requests: { average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
interface AutocannonInstance {
  on(
    event: "response",
    listener: (client: unknown, status: number, bytes: number, ms: number) => void,
  ): void;
}
type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => AutocannonInstance;
// autocannon ships no types; this is the part of its API used here.
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  requests: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function makeBodies(count: number, vocab: number, k: number, perRequest: number): string[] {
  // SKU names as the vocabulary holds them; popularity ~ 1/rank like the synthetic data.
  const weights = cumulative(Array.from({ length: vocab }, (_, i) => 1 / (i + 1)));
  const rng = Rng.from(2026, 11);
  return Array.from({ length: count }, () => {
    const sessions = Array.from({ length: perRequest }, () =>
      Array.from({ length: 1 + rng.int(20) }, () => skuName(rng.pickCumulative(weights))),
    );
    return JSON.stringify({ sessions, k });
  });
}

const skuName = (i: number) => `sku-${i.toString(16).padStart(6, "0")}`;

interface Run {
  connections: number;
  duration: number;
  /** Requests per second over all connections (autocannon's overallRate). */
  rate?: number;
}

/** One autocannon run; every 2xx response's latency is pushed to `latencies`. */
function autocannonRun(
  url: string,
  next: () => string,
  run: Run,
  latencies: number[],
): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${url}/invocations`,
        method: "POST",
        headers: { "content-type": "application/json" },
        connections: run.connections,
        duration: run.duration,
        ...(run.rate ? { overallRate: run.rate } : {}),
        requests: [
          {
            setupRequest(request: Record<string, unknown>) {
              request.body = next();
              return request;
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    instance.on("response", (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

const ratePerConnection = Number(values["rate-per-connection"]);

/** Rate runs are split into this many autocannon instances, started evenly over one second. */
const RATE_SLICES = 50;

/**
 * Loads the server. Without a rate: one autocannon run with `connections` closed-loop clients.
 *
 * With a rate: autocannon limits a connection's rate by letting it send its quota for the second
 * back to back and then pause until its one-second window restarts, and all connections start
 * together, so one instance with overallRate 1000 sends a 1000-request burst once a second (its
 * latencies measure the burst draining, not a server under a steady 1k req/s). So the rate is
 * split over RATE_SLICES instances started 1000/RATE_SLICES ms apart, each with connections of
 * `--rate-per-connection` requests per second: small bursts every 20 ms, close to a steady
 * arrival rate. (One request per connection per second would need as many connections as the
 * rate, and opening a thousand at once overflows the listen backlog: their first requests then
 * wait a one-second SYN retransmit.) `connections` is ignored then.
 */
async function load(url: string, bodies: string[], run: Run): Promise<Measured> {
  let i = 0;
  const next = () => bodies[i++ % bodies.length] as string;
  const latencies: number[] = [];
  let results: AutocannonResult[];
  const total = run.rate;
  if (!total) {
    results = [await autocannonRun(url, next, run, latencies)];
  } else {
    const slices = Math.min(RATE_SLICES, total);
    const perSlice = Math.floor(total / slices);
    results = await Promise.all(
      Array.from({ length: slices }, async (_, s) => {
        await new Promise((r) => setTimeout(r, (s * 1000) / slices));
        const rate = perSlice + (s < total - perSlice * slices ? 1 : 0);
        const connections = Math.max(1, Math.round(rate / ratePerConnection));
        return autocannonRun(url, next, { duration: run.duration, connections, rate }, latencies);
      }),
    );
  }
  const sorted = Float64Array.from(latencies).sort();
  return {
    // Each run (each slice of a rate run) lasts `duration`, whatever its start.
    rps: latencies.length / run.duration,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    errors: results.reduce((sum, r) => sum + r.errors + r.timeouts + r.non2xx, 0),
    requests: latencies.length,
  };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

class ServerChild {
  private constructor(private readonly child: ChildProcess) {}

  static async start(kind: "noop" | "model", port: number, modelDir: string): Promise<ServerChild> {
    const child = fork(
      fileURLToPath(import.meta.url),
      [
        "--child",
        kind,
        "--port",
        String(port),
        "--model",
        modelDir,
        "--max-batch",
        values["max-batch"] as string,
        "--max-wait-ms",
        values["max-wait-ms"] as string,
      ],
      { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] },
    );
    const [message] = (await Promise.race([
      once(child, "message"),
      once(child, "exit").then(() => {
        throw new Error(`the ${kind} server exited before it was ready`);
      }),
    ])) as [unknown];
    if (message !== "ready") throw new Error(`unexpected message from the ${kind} server`);
    return new ServerChild(child);
  }

  async report(): Promise<ChildReport> {
    this.child.send("report");
    const [message] = (await once(this.child, "message")) as [ChildReport];
    return message;
  }

  async stop(): Promise<void> {
    const exited = once(this.child, "exit");
    this.child.send("stop");
    await exited;
  }
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : "n/a");
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** The hybrid preset's components; a fitted blend has other weights but does the same work. */
const HYBRID_BLEND: BlendSpec = {
  components: [
    { kind: "neural", weight: 1 },
    { kind: "sknn", weight: 0.5 },
    { kind: "cooccurrence", weight: 1 },
    { kind: "repeat", weight: 0.5 },
  ],
};

/**
 * Writes the served artifact as `pipeline train` would for the hybrid preset (GRU(64), tied, 20
 * items of history): random weights, and train sessions of 2–15 SKUs from the requests' Zipf(1)
 * popularity for the neighbourhood components.
 */
async function buildArtifact(dir: string, vocab: number, trainSessions: number): Promise<void> {
  const vocabulary = Vocabulary.fromCounts(
    new Map(Array.from({ length: vocab }, (_, i) => [skuName(i), vocab - i])),
  );
  const net: NetConfig = {
    cell: "gru",
    vocabSize: vocabulary.size,
    embeddingDim: 64,
    hiddenUnits: 64,
    layers: 1,
    tied: true,
    maxLen: 20,
  };
  const next = seededFloats(2026);
  const weights = new Map(
    netWeightSpecs(net).map(({ name, shape }) => [
      name,
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() - 0.5) * 0.2),
    ]),
  );
  const popularity = cumulative(Array.from({ length: vocab }, (_, i) => 1 / (i + 1)));
  const rng = Rng.from(2026, 13);
  const sessions = Array.from({ length: trainSessions }, () =>
    vocabulary.encode(
      Array.from({ length: 2 + rng.int(14) }, () => skuName(rng.pickCumulative(popularity))),
    ),
  );
  await saveModelArtifact(dir, {
    net,
    weights,
    vocabulary,
    blend: HYBRID_BLEND,
    ablation: null,
    sessions: sessionBlock(sessions),
    neighbours: { ...NEIGHBOUR_DEFAULTS },
    config: {
      format: MODEL_FORMAT,
      preset: "hybrid",
      net,
      training: {},
      runId: "bench-serve",
      backend: "cpu",
      excludeLastItem: true,
    },
    history: { epochs: [], bestEpoch: 0, stoppedEarly: false },
  });
}

async function main(): Promise<void> {
  const vocab = Number(values.vocab);
  const duration = Number(values.duration);
  const levels = (values.connections as string).split(",").map(Number);
  const rate = Number(values.rate);
  const rateDuration = Number(values["rate-duration"]);
  const soak = Number(values.soak);
  const bodies = makeBodies(2000, vocab, Number(values.k), Number(values["sessions-per-request"]));
  const dir = mkdtempSync(path.join(os.tmpdir(), "bench-serve-"));
  try {
    await buildArtifact(dir, vocab, Number(values["train-sessions"]));
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    console.error(
      `bench/serve: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(
          " ",
        )}; port ${port}; vocab ${vocab}, ${values["train-sessions"]} train sessions; ${values["sessions-per-request"]} session(s) per request, k ${values.k}`,
    );

    const results: Record<
      "noop" | "model",
      { levels: Measured[]; rate?: Measured; perCall?: number }
    > = {
      noop: { levels: [] },
      model: { levels: [] },
    };
    for (const kind of ["noop", "model"] as const) {
      const server = await ServerChild.start(kind, port, dir);
      await load(url, bodies, { connections: 10, duration: 2 }); // warm-up (JIT, first model call)
      const before = await server.report();
      for (const connections of levels) {
        const measured = await load(url, bodies, { connections, duration });
        results[kind].levels.push(measured);
        console.error(
          `  ${kind} c=${connections}: ${fmt(measured.rps, 0)} req/s, p99 ${fmt(measured.p99)} ms`,
        );
      }
      if (rate > 0) {
        results[kind].rate = await load(url, bodies, {
          connections: 0,
          duration: rateDuration,
          rate,
        });
      }
      const after = await server.report();
      if (after.calls > before.calls) {
        results[kind].perCall = (after.sessions - before.sessions) / (after.calls - before.calls);
      }
      await server.stop();
    }

    const rows = levels.map((connections, i) => {
      const n = results.noop.levels[i] as Measured;
      const m = results.model.levels[i] as Measured;
      return [
        String(connections),
        fmt(n.rps, 0),
        fmt(m.rps, 0),
        ratio(m.rps, n.rps),
        fmt(n.p50),
        fmt(m.p50),
        fmt(n.p99),
        fmt(m.p99),
        ratio(m.p99, n.p99),
        String(n.errors + m.errors),
      ];
    });
    if (results.noop.rate && results.model.rate) {
      const n = results.noop.rate;
      const m = results.model.rate;
      rows.push([
        `fixed ${rate} req/s`,
        fmt(n.rps, 0),
        fmt(m.rps, 0),
        ratio(m.rps, n.rps),
        fmt(n.p50),
        fmt(m.p50),
        fmt(n.p99),
        fmt(m.p99),
        ratio(m.p99, n.p99),
        String(n.errors + m.errors),
      ]);
    }
    console.log(
      markdownTable([
        [
          "connections",
          "no-op req/s",
          "model req/s",
          "ratio",
          "no-op p50 ms",
          "model p50 ms",
          "no-op p99 ms",
          "model p99 ms",
          "p99 ratio",
          "errors",
        ],
        ...rows,
      ]),
    );
    if (results.model.perCall !== undefined) {
      console.log(
        `\nmodel server: ${fmt(results.model.perCall, 1)} sessions per model call on average (batching)`,
      );
    }
    // The targets of the serving work (issue 14), each against the no-op server in this run.
    if (results.model.rate && results.noop.rate) {
      const margin = results.model.rate.p99 - results.noop.rate.p99;
      console.log(
        `target p99 ≤ no-op p99 + 2 ms at ${rate} req/s: ${margin <= 2 ? "met" : "not met"} (+${fmt(margin)} ms)`,
      );
    }
    const busiest = (r: { levels: Measured[] }) => r.levels[r.levels.length - 1];
    const noopTop = busiest(results.noop);
    const modelTop = busiest(results.model);
    if (noopTop && modelTop) {
      const share = modelTop.rps / noopTop.rps;
      console.log(
        `target saturation ≥ 50% of the no-op's req/s: ${share >= 0.5 ? "met" : "not met"} (${fmt(share * 100, 0)}%: ${fmt(modelTop.rps, 0)} vs ${fmt(noopTop.rps, 0)} req/s)`,
      );
    }

    if (soak > 0) {
      const server = await ServerChild.start("model", port, dir);
      await load(url, bodies, { connections: 10, duration: 2 });
      const start = await server.report();
      let peak = start.rss;
      const sampler = setInterval(() => {
        void server.report().then((r) => (peak = Math.max(peak, r.rss)));
      }, 5000);
      const measured = await load(url, bodies, { connections: 0, duration: soak, rate });
      clearInterval(sampler);
      const end = await server.report();
      peak = Math.max(peak, end.rss);
      await server.stop();
      console.log(
        `\nsoak: ${soak} s at ${rate} req/s: ${measured.requests} requests (${fmt(measured.rps, 0)} req/s), ` +
          `${measured.errors} errors, p50 ${fmt(measured.p50)} ms, p99 ${fmt(measured.p99)} ms; ` +
          `RSS ${mib(start.rss)} at start, ${mib(end.rss)} at end, peak sampled ${mib(peak)}; ` +
          `V8 heap ${mib(start.heapUsed)} at start, ${mib(end.heapUsed)} at end`,
      );
      const growth = end.rss / start.rss - 1;
      console.log(
        `target soak 0 errors, RSS growth < 10%: ${measured.errors === 0 && growth < 0.1 ? "met" : "not met"} (${measured.errors} errors, RSS ${growth >= 0 ? "+" : ""}${fmt(growth * 100, 1)}%)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.child) await runChild(values.child);
else await main();
