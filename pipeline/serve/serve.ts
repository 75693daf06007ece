/**
 * What `pipeline serve` runs: load the artifact folder (SageMaker mounts it at /opt/ml/model)
 * while already answering /ping with 503, then serve until SIGTERM or SIGINT.
 */
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import { describeBlend } from "../model/blend.ts";
import { silentReporter, type Reporter } from "../reporter.ts";
import { createRequestLog } from "./request-log.ts";
import { startServer, type RunningServer, type ServerOptions } from "./server.ts";

/** Where SageMaker puts the model data of a custom container. */
export const SAGEMAKER_MODEL_DIR = "/opt/ml/model";

export interface ModelServerOptions extends Omit<ServerOptions, "model"> {
  /** The artifact folder written by `pipeline train`. */
  modelDir: string;
}

/**
 * Starts listening at once and loads the model behind it: SageMaker polls /ping from the moment
 * the container starts, and a 503 while loading is the answer it expects.
 */
export async function startModelServer(options: ModelServerOptions): Promise<RunningServer> {
  const reporter = options.reporter ?? silentReporter();
  const { modelDir, ...rest } = options;
  const model = (async () => {
    const artifact = await loadModelArtifact(modelDir);
    reporter.info(
      `model of run ${artifact.config.runId} loaded from ${modelDir} (${artifact.vocabulary.size - 2} items; ${describeBlend(artifact.blend)})`,
    );
    return artifact;
  })();
  return startServer({ ...rest, reporter, model });
}

/** The settings `pipeline serve` and the serving image share. */
export type ServeConfig = Pick<Config, "store" | "serve">;

/**
 * Serves `modelDir` as the config says (port, limits, batching, sampled request log) until
 * SIGTERM or SIGINT: what `pipeline serve` and the serving image's entry both run.
 */
export async function serveModel(
  config: ServeConfig,
  modelDir: string,
  reporter: Reporter,
): Promise<void> {
  const { serve } = config;
  const requestLog =
    serve.logSampleRate > 0
      ? createRequestLog({
          // An S3 store is not a folder: the log goes to a local one the upload stage reads.
          dir: join(config.store.startsWith("s3://") ? ".mlops" : config.store, "requests"),
          sampleRate: serve.logSampleRate,
        })
      : undefined;
  const server = await startModelServer({
    modelDir,
    port: serve.port,
    maxQueue: serve.maxQueue,
    maxConnections: serve.maxConnections,
    requestTimeoutMs: serve.requestTimeoutMs,
    headersTimeoutMs: serve.headersTimeoutMs,
    keepAliveTimeoutMs: serve.keepAliveTimeoutMs,
    batch: { maxBatch: serve.maxBatch, maxWaitMs: serve.batchWaitMs },
    reporter,
    ...(requestLog ? { requestLog } : {}),
  });
  reporter.info(`serving ${modelDir} on ${server.url} (GET /ping, POST /invocations)`);
  await server.ready;
  reporter.info("model loaded: /ping answers 200");
  await serveUntilSignal(server, { reporter });
}

/** The parts of `process` that `serveUntilSignal` uses (tests pass a stand-in). */
export interface SignalTarget {
  once(signal: NodeJS.Signals, listener: () => void): unknown;
  off(signal: NodeJS.Signals, listener: () => void): unknown;
}

export interface SignalOptions {
  signals?: NodeJS.Signals[];
  reporter?: Reporter;
  target?: SignalTarget;
  /** Called with the exit code once the server has closed (default: process.exit). */
  exit?: (code: number) => void;
}

/**
 * Serves until the first of `signals` (SIGTERM, SIGINT), then closes gracefully (requests in
 * flight finish, the request log is flushed) and exits 0, or 1 if closing failed. A second
 * signal while closing exits at once with 1 (a person pressing Ctrl-C twice means it).
 * Resolves with the signal that stopped the server.
 */
export function serveUntilSignal(
  server: RunningServer,
  options: SignalOptions = {},
): Promise<NodeJS.Signals> {
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const target = options.target ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const reporter = options.reporter ?? silentReporter();
  return new Promise((resolve) => {
    const listeners = new Map<NodeJS.Signals, () => void>();
    const onSignal = (signal: NodeJS.Signals) => {
      for (const [name, listener] of listeners) target.off(name, listener);
      const force = () => {
        reporter.warn(`${signal} again while closing: exiting without waiting`);
        exit(1);
      };
      for (const name of signals) target.once(name, force);
      reporter.info(`${signal}: finishing the requests in flight, then exiting`);
      server.close().then(
        () => {
          for (const name of signals) target.off(name, force);
          resolve(signal);
          exit(0);
        },
        (error: unknown) => {
          for (const name of signals) target.off(name, force);
          reporter.warn(`closing the server failed: ${(error as Error).message}`);
          resolve(signal);
          exit(1);
        },
      );
    };
    for (const name of signals) {
      const listener = () => onSignal(name);
      listeners.set(name, listener);
      target.once(name, listener);
    }
  });
}
