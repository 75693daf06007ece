/**
 * The inference server, speaking SageMaker's custom-container contract:
 *
 *   GET  /ping         200 once the model is loaded, 503 before (SageMaker's health check)
 *   POST /invocations  {"sessions": [[sku, ...], ...], "k": 10} → {"predictions": [...], "model": {...}}
 *
 * node:http only: the contract is two routes, and a framework would add start-up time and a
 * dependency to the serving image for nothing. Bad input is always a 4xx with
 * `{"error": {"code", "message"}}` naming the problem; a model failure is a 500 with a request id
 * that is also in the log. Concurrent requests share model calls (see batcher.ts), and `close()`
 * lets requests in flight finish before the process goes (SageMaker sends SIGTERM, then SIGKILL).
 */
import { randomUUID } from "node:crypto";
import {
  STATUS_CODES,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { PipelineError } from "../errors.ts";
import { silentReporter, type Reporter } from "../reporter.ts";
import type { ArtifactConfig } from "../model/artifact.ts";
import type { SessionPrediction } from "../model/predictor.ts";
import {
  DEFAULT_BATCH_OPTIONS,
  PredictionBatcher,
  type BatchOptions,
  type BatcherStats,
  type Predictor,
} from "./batcher.ts";
import {
  HttpError,
  errorBody,
  isJsonContentType,
  parseInvocation,
  predictionsBody,
  type ModelInfo,
} from "./protocol.ts";
import type { RequestLog } from "./request-log.ts";
import { SERVE_LIMIT_DEFAULTS } from "./serve-settings.ts";

/** A predictor, and what the response reports about the model when it knows it. */
export interface ServedModel extends Predictor {
  readonly config?: Pick<ArtifactConfig, "runId" | "format">;
}

export interface ServerOptions {
  /** The model, or its loading: the server listens at once and /ping says 503 until it resolves. */
  model: ServedModel | Promise<ServedModel>;
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes?: number;
  /** Most sessions in one request. */
  maxSessions?: number;
  /** Largest k a request may ask for. */
  maxK?: number;
  /** k when a request gives none. */
  defaultK?: number;
  batch?: Partial<BatchOptions>;
  /** Sampled request logging (the monitoring hook); closed with the server. */
  requestLog?: RequestLog;
  /** The registry's version of the model, reported in every response. */
  modelVersion?: string;
  /** How long `close()` waits for requests in flight before cutting their connections. */
  shutdownTimeoutMs?: number;
  /**
   * Most sessions waiting for the model. A request that would queue more is answered 503 with
   * Retry-After at once (load shedding): past capacity, queueing only adds latency and memory.
   */
  maxQueue?: number;
  /** Connections held at once; further ones are closed as they are accepted. */
  maxConnections?: number;
  /** Longest a request may take to arrive whole (headers and body), in milliseconds. */
  requestTimeoutMs?: number;
  /** Longest a request's headers may take to arrive, in milliseconds (cuts off slow clients). */
  headersTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept, in milliseconds. */
  keepAliveTimeoutMs?: number;
  reporter?: Reporter;
}

export const SERVER_DEFAULTS = {
  port: 8080,
  host: "0.0.0.0",
  maxBodyBytes: 1024 * 1024,
  maxSessions: 1000,
  maxK: 100,
  defaultK: 10,
  shutdownTimeoutMs: 30_000,
  maxQueue: SERVE_LIMIT_DEFAULTS.maxQueue,
  maxConnections: SERVE_LIMIT_DEFAULTS.maxConnections,
  requestTimeoutMs: SERVE_LIMIT_DEFAULTS.requestTimeoutMs,
  headersTimeoutMs: SERVE_LIMIT_DEFAULTS.headersTimeoutMs,
  keepAliveTimeoutMs: SERVE_LIMIT_DEFAULTS.keepAliveTimeoutMs,
} as const;

/** Seconds a shed request is told to wait (Retry-After). */
const RETRY_AFTER_SECONDS = 1;

export interface ServerStats {
  /** Requests answered, by status code. */
  responses: Record<number, number>;
  /** Requests answered 503 because the queue was full. */
  shed: number;
  batching: BatcherStats;
}

export interface RunningServer {
  /** `http://host:port`, with 127.0.0.1 for a server listening on every interface. */
  readonly url: string;
  readonly port: number;
  /** Resolves when the model is loaded; rejects with the loading error. */
  readonly ready: Promise<void>;
  stats(): ServerStats;
  /** Stops accepting, finishes the requests in flight, flushes the request log. Idempotent. */
  close(): Promise<void>;
}

type ModelState =
  | { state: "loading" }
  | { state: "ready"; batcher: PredictionBatcher; info: ModelInfo }
  | { state: "failed"; error: Error };

const JSON_TYPE = "application/json";

const MODEL_LOAD_FAILED = {
  code: "model_load_failed",
  message: "the model could not be loaded; the server's log says why",
} as const;

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new PipelineError(
      `server setting ${name} must be a positive integer, got ${value}`,
      2,
      `set ${name} to a whole number of at least 1`,
    );
  }
  return value;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const reporter = options.reporter ?? silentReporter();
  const limits = {
    maxBodyBytes: positiveInteger(
      "maxBodyBytes",
      options.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes,
    ),
    maxSessions: positiveInteger("maxSessions", options.maxSessions ?? SERVER_DEFAULTS.maxSessions),
    maxK: positiveInteger("maxK", options.maxK ?? SERVER_DEFAULTS.maxK),
    defaultK: positiveInteger("defaultK", options.defaultK ?? SERVER_DEFAULTS.defaultK),
    maxQueue: positiveInteger("maxQueue", options.maxQueue ?? SERVER_DEFAULTS.maxQueue),
  };
  const timeouts = {
    requestTimeout: positiveInteger(
      "requestTimeoutMs",
      options.requestTimeoutMs ?? SERVER_DEFAULTS.requestTimeoutMs,
    ),
    headersTimeout: positiveInteger(
      "headersTimeoutMs",
      options.headersTimeoutMs ?? SERVER_DEFAULTS.headersTimeoutMs,
    ),
    keepAliveTimeout: positiveInteger(
      "keepAliveTimeoutMs",
      options.keepAliveTimeoutMs ?? SERVER_DEFAULTS.keepAliveTimeoutMs,
    ),
  };
  if (timeouts.headersTimeout > timeouts.requestTimeout) {
    throw new PipelineError(
      `server setting headersTimeoutMs (${timeouts.headersTimeout}) is above requestTimeoutMs (${timeouts.requestTimeout})`,
      2,
      "the headers are part of the request: lower headersTimeoutMs or raise requestTimeoutMs",
    );
  }
  const maxConnections = positiveInteger(
    "maxConnections",
    options.maxConnections ?? SERVER_DEFAULTS.maxConnections,
  );
  if (limits.defaultK > limits.maxK) {
    throw new PipelineError(
      `server setting defaultK (${limits.defaultK}) is above maxK (${limits.maxK})`,
      2,
      "lower defaultK or raise maxK",
    );
  }
  const batchOptions: BatchOptions = { ...DEFAULT_BATCH_OPTIONS, ...options.batch };
  // Checked now, not when the model arrives, so a bad setting fails the start.
  positiveInteger("batch.maxBatch", batchOptions.maxBatch);
  if (!(batchOptions.maxWaitMs >= 0 && Number.isFinite(batchOptions.maxWaitMs))) {
    throw new PipelineError(
      `server setting batch.maxWaitMs must be 0 or more milliseconds, got ${batchOptions.maxWaitMs}`,
      2,
      "set batch.maxWaitMs to a small number such as 2",
    );
  }

  let model: ModelState = { state: "loading" };
  const ready = Promise.resolve(options.model).then(
    (loaded) => {
      model = {
        state: "ready",
        batcher: new PredictionBatcher(loaded, batchOptions),
        info: {
          run_id: loaded.config?.runId ?? "unknown",
          format: loaded.config?.format ?? "unknown",
          ...(options.modelVersion ? { version: options.modelVersion } : {}),
        },
      };
    },
    (error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      model = { state: "failed", error: failure };
      reporter.warn(`the model could not be loaded: ${failure.message}`);
      throw failure;
    },
  );
  ready.catch(() => {}); // the caller may never await it; /ping reports the failure either way

  const responses: Record<number, number> = {};
  let shed = 0;
  let inFlight = 0;
  let closing = false;
  let idle: (() => void) | undefined;

  const send = (
    res: ServerResponse,
    status: number,
    body: string,
    headers: Record<string, string> = {},
  ) => {
    responses[status] = (responses[status] ?? 0) + 1;
    if (res.destroyed) return; // the client went away; nothing to answer
    res.writeHead(status, {
      "content-type": JSON_TYPE,
      "content-length": String(Buffer.byteLength(body)),
      // While closing, and after an error that left the body unread, do not reuse the connection.
      ...(closing || bodyLeftUnread(res.req) ? { connection: "close" } : {}),
      ...headers,
    });
    res.end(body);
  };

  const ping = (res: ServerResponse, head: boolean) => {
    const status = model.state === "ready" && !closing ? 200 : 503;
    // The loading error's text (paths, a stack) goes to the log, not to whoever polls /ping.
    const body =
      model.state === "ready"
        ? JSON.stringify({ status: closing ? "shutting_down" : "ready", model: model.info })
        : model.state === "loading"
          ? JSON.stringify({ status: "loading" })
          : JSON.stringify({ status: "failed", error: MODEL_LOAD_FAILED });
    if (head) {
      responses[status] = (responses[status] ?? 0) + 1;
      res.writeHead(status, { "content-type": JSON_TYPE }).end();
    } else send(res, status, body);
  };

  const invoke = async (req: IncomingMessage, res: ServerResponse, requestId: string) => {
    const receivedAt = Date.now();
    if (closing) throw new HttpError(503, "shutting_down", "the server is shutting down");
    if (model.state === "loading") {
      throw new HttpError(
        503,
        "model_not_ready",
        "the model is still loading; retry when GET /ping answers 200",
        { "retry-after": String(RETRY_AFTER_SECONDS) },
      );
    }
    if (model.state === "failed") {
      throw new HttpError(503, MODEL_LOAD_FAILED.code, MODEL_LOAD_FAILED.message);
    }
    const { batcher, info } = model;
    if (!isJsonContentType(req.headers["content-type"])) {
      throw new HttpError(
        415,
        "unsupported_media_type",
        `Content-Type must be application/json (UTF-8), got ${req.headers["content-type"] ? JSON.stringify(req.headers["content-type"]) : "none"}`,
      );
    }
    const body = await readBody(req, limits.maxBodyBytes);
    const { sessions, k } = parseInvocation(body, limits);
    if (batcher.waiting + sessions.length > limits.maxQueue) {
      shed++;
      throw new HttpError(
        503,
        "overloaded",
        `the server is at capacity (${batcher.waiting} sessions waiting for the model, at most ${limits.maxQueue}); retry after ${RETRY_AFTER_SECONDS} s`,
        { "retry-after": String(RETRY_AFTER_SECONDS) },
      );
    }
    let predictions: SessionPrediction[];
    try {
      predictions = await batcher.predict(sessions, k);
    } catch (error) {
      reporter.warn(
        `request ${requestId}: the model failed on ${sessions.length} session(s): ${(error as Error).message ?? String(error)}`,
      );
      throw new HttpError(
        500,
        "prediction_failed",
        `the model failed on this request; quote request id ${requestId} when reporting it`,
      );
    }
    options.requestLog?.record(requestId, sessions, receivedAt, info.run_id);
    send(res, 200, predictionsBody(predictions, info), { "x-request-id": requestId });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    inFlight++;
    try {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/ping") {
        if (req.method === "GET" || req.method === "HEAD") ping(res, req.method === "HEAD");
        else throw methodNotAllowed(req.method, path, "GET");
      } else if (path === "/invocations") {
        if (req.method !== "POST") throw methodNotAllowed(req.method, path, "POST");
        await invoke(req, res, requestId);
      } else {
        throw new HttpError(
          404,
          "not_found",
          `no route ${JSON.stringify(path)}: this server answers GET /ping and POST /invocations`,
        );
      }
    } catch (error) {
      const http =
        error instanceof HttpError
          ? error
          : new HttpError(500, "internal_error", `unexpected error; request id ${requestId}`);
      if (!(error instanceof HttpError)) {
        reporter.warn(`request ${requestId}: ${(error as Error).stack ?? String(error)}`);
      }
      send(res, http.status, errorBody(http, requestId), {
        "x-request-id": requestId,
        ...http.headers,
      });
    } finally {
      inFlight--;
      if (inFlight === 0) idle?.();
    }
  };

  const server: Server = createServer(
    {
      ...timeouts,
      // Node checks the request and headers timeouts on this interval (30 s by default, which
      // would let a slow client hold a connection that much longer than the limit).
      connectionsCheckingInterval: Math.min(1000, Math.ceil(timeouts.headersTimeout / 4)),
    },
    (req, res) => {
      void handle(req, res);
    },
  );
  server.maxConnections = maxConnections;
  // A malformed request line or header never reaches the handler: answer it as JSON too.
  server.on("clientError", (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || error.code === "ECONNRESET") {
      socket.destroy();
      return;
    }
    const http =
      error.code === "HPE_HEADER_OVERFLOW"
        ? new HttpError(431, "headers_too_large", "the request headers are too large")
        : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? new HttpError(408, "request_timeout", "the request was not received in time")
          : new HttpError(
              400,
              "bad_request",
              `malformed HTTP request (${error.code ?? "parse error"})`,
            );
    const body = errorBody(http);
    socket.end(
      `HTTP/1.1 ${http.status} ${STATUS_CODES[http.status] ?? ""}\r\n` +
        `content-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  const host = options.host ?? SERVER_DEFAULTS.host;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        new PipelineError(
          `the server cannot listen on ${host}:${options.port ?? SERVER_DEFAULTS.port}: ${error.code ?? error.message}`,
          1,
          error.code === "EADDRINUSE"
            ? "another process uses that port: stop it or pass another --port"
            : undefined,
        ),
      ),
    );
    server.listen(options.port ?? SERVER_DEFAULTS.port, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;

  let closed: Promise<void> | undefined;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? SERVER_DEFAULTS.shutdownTimeoutMs;
  const close = async () => {
    closing = true;
    const listenerClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    if (inFlight > 0) {
      const finished = new Promise<void>((resolve) => (idle = resolve));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), shutdownTimeoutMs);
      });
      const late = await Promise.race([finished.then(() => false), timedOut]);
      clearTimeout(timer);
      if (late) {
        reporter.warn(
          `${inFlight} request(s) still running after ${shutdownTimeoutMs} ms; closing their connections`,
        );
        server.closeAllConnections();
      }
    }
    // Connections whose last response went out before `closing` was set may still be idle.
    server.closeIdleConnections();
    await listenerClosed;
    await options.requestLog?.close();
  };

  return {
    url: `http://${urlHost.includes(":") ? `[${urlHost}]` : urlHost}:${port}`,
    port,
    ready,
    stats: () => ({
      responses: { ...responses },
      shed,
      batching:
        model.state === "ready"
          ? { ...model.batcher.stats }
          : { calls: 0, sessions: 0, largestBatch: 0 },
    }),
    close() {
      closed ??= close();
      return closed;
    },
  };
}

function methodNotAllowed(method: string | undefined, path: string, allowed: string): HttpError {
  return new HttpError(
    405,
    "method_not_allowed",
    `${method ?? "?"} ${path} is not supported: use ${allowed}`,
    { allow: allowed === "GET" ? "GET, HEAD" : allowed },
  );
}

/**
 * Whether the request announced a body that was not read to its end (an error answered before
 * reading it): the connection then cannot carry another request. A request without a body (a
 * GET) is not `complete` until its empty body is consumed, so that flag alone would close every
 * /ping connection.
 */
function bodyLeftUnread(req: IncomingMessage): boolean {
  if (req.complete) return false;
  return (
    req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"]) > 0
  );
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads the body up to `limit` bytes. A declared Content-Length over the limit is refused before
 * reading anything; a body that grows past it (chunked) stops being read at the limit.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const tooLarge = (size: string) =>
    new HttpError(
      413,
      "payload_too_large",
      `the body is ${size}, over the limit of ${limit} bytes; send fewer sessions per request`,
    );
  const declared = Number(req.headers["content-length"]);
  if (declared > limit) return Promise.reject(tooLarge(`${declared} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        reject(tooLarge(`more than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      try {
        resolve(utf8.decode(Buffer.concat(chunks, size)));
      } catch {
        reject(new HttpError(400, "invalid_encoding", "the body is not valid UTF-8"));
      }
    });
    req.once("error", (error) =>
      reject(new HttpError(400, "aborted", `the request body was cut off: ${error.message}`)),
    );
  });
}
