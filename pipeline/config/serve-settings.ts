/**
 * The inference server's capacity settings: `pipeline serve` reads them from flags, the
 * environment (SageMaker passes a model's Environment to the container) or the config file, and
 * the server's own defaults are these specs' defaults (serve/serve-settings.ts).
 */
import { z } from "zod";
import type { SettingSpec } from "./setting-spec.ts";

export interface ServeLimits {
  /** Sessions waiting for the model before requests are answered 503 (load shedding). */
  maxQueue: number;
  /** Most sessions in one model call. */
  maxBatch: number;
  /** Longest a session waits for others to share its model call, in milliseconds. */
  batchWaitMs: number;
  /** Connections held at once. */
  maxConnections: number;
  /** Longest a request may take to arrive whole, in milliseconds. */
  requestTimeoutMs: number;
  /** Longest a request's headers may take to arrive, in milliseconds. */
  headersTimeoutMs: number;
  /** How long an idle keep-alive connection is kept, in milliseconds. */
  keepAliveTimeoutMs: number;
}

const positiveInt = z.number().int().positive();

export const SERVE_LIMIT_SPECS: SettingSpec[] = [
  {
    key: "serve.maxQueue",
    env: "MLOPS_SERVE_MAX_QUEUE",
    flag: "--max-queue",
    default: 256,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description:
      "Sessions waiting for the model before `pipeline serve` answers 503 with Retry-After (load shedding): past capacity, a queue only adds latency.",
  },
  {
    key: "serve.maxBatch",
    env: "MLOPS_SERVE_MAX_BATCH",
    flag: "--max-batch",
    default: 32,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description:
      "Most sessions of concurrent requests scored in one model call; a call holds the event loop (and /ping) for its length.",
  },
  {
    key: "serve.batchWaitMs",
    env: "MLOPS_SERVE_BATCH_WAIT_MS",
    flag: "--batch-wait-ms",
    default: 0,
    schema: z.number().min(0).max(1000),
    numeric: true,
    allowed: "0 to 1000 milliseconds",
    description:
      "How long a request waits for others to share its model call (0: only those that arrived with it).",
  },
  {
    key: "serve.maxConnections",
    env: "MLOPS_SERVE_MAX_CONNECTIONS",
    flag: "--max-connections",
    default: 1000,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer",
    description: "Connections `pipeline serve` holds at once; further ones are closed.",
  },
  {
    key: "serve.requestTimeoutMs",
    env: "MLOPS_SERVE_REQUEST_TIMEOUT_MS",
    flag: "--request-timeout-ms",
    // SageMaker gives an invocation 60 s end to end; a request still arriving after that is dead.
    default: 60_000,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer (milliseconds)",
    description:
      "Longest a request may take to arrive whole (headers and body) before a 408; SageMaker allows an invocation 60 s.",
  },
  {
    key: "serve.headersTimeoutMs",
    env: "MLOPS_SERVE_HEADERS_TIMEOUT_MS",
    flag: "--headers-timeout-ms",
    default: 10_000,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer (milliseconds), at most serve.requestTimeoutMs",
    description: "Longest a request's headers may take to arrive: cuts off slow clients.",
  },
  {
    key: "serve.keepAliveTimeoutMs",
    env: "MLOPS_SERVE_KEEP_ALIVE_TIMEOUT_MS",
    flag: "--keep-alive-timeout-ms",
    // Longer than a load balancer's usual 60 s idle timeout, so the server never closes a
    // connection its front end is about to reuse (the front end closes idle ones first).
    default: 75_000,
    schema: positiveInt,
    numeric: true,
    allowed: "a positive integer (milliseconds)",
    description:
      "How long an idle keep-alive connection is kept; longer than the front end's idle timeout (60 s on most load balancers).",
  },
];
