/**
 * What a failure from snowflake-sdk means for us: worth another try (network, HTTP 5xx), a lost
 * session (reconnect first), or final (login refused, SQL that does not compile, bad options).
 * The SDK's errors are plain Errors with extra fields; they are read defensively here.
 */
import { PipelineError } from "../../errors.ts";
import { SNOWFLAKE_ENV as E, type SnowflakeSettings } from "./config.ts";

export type FailureKind = "transient" | "session" | "auth" | "sql" | "config" | "other";

/** The fields snowflake-sdk puts on its errors (SnowflakeError, externalized). */
interface ErrorFields {
  name: string;
  message: string;
  code: string;
  sqlState: string;
  status: number | undefined;
  causeCode: string;
}

function fieldsOf(error: unknown): ErrorFields {
  const record = (typeof error === "object" && error !== null ? error : {}) as Record<
    string,
    unknown
  >;
  const cause = (
    typeof record.cause === "object" && record.cause !== null ? record.cause : {}
  ) as Record<string, unknown>;
  const response = (
    typeof record.response === "object" && record.response !== null ? record.response : {}
  ) as Record<string, unknown>;
  const status = response.statusCode ?? response.status;
  return {
    name: typeof record.name === "string" ? record.name : "",
    message: error instanceof Error ? error.message : String(error),
    code: record.code === undefined || record.code === null ? "" : String(record.code),
    sqlState: typeof record.sqlState === "string" ? record.sqlState : "",
    status: typeof status === "number" ? status : undefined,
    causeCode: cause.code === undefined || cause.code === null ? "" : String(cause.code),
  };
}

/** Socket-level failures that a later attempt can get past. */
const TRANSIENT_SOCKET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ESOCKETTIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "ENETDOWN",
  "ERR_SOCKET_CONNECTION_TIMEOUT",
]);

/** snowflake-sdk ErrorCode values (lib/error_code): client-side network and HTTP failures. */
const SDK_NETWORK_COULD_NOT_CONNECT = "401001";
const SDK_RESPONSE_FAILURE = "401002";
const SDK_RESPONSE_NOT_JSON = "401003";
const SDK_RESPONSE_INVALID_TOKEN = "401004";
const SDK_LARGE_RESULT_NETWORK = "402001";
const SDK_LARGE_RESULT_FAILURE = "402002";
/** The connection is not (or no longer) connected: ERR_CONN_REQUEST_STATUS_* / CONNECT_STATUS_DISCONNECTED. */
const SDK_DISCONNECTED = new Set(["407001", "407002", "405503"]);
/** Server codes (lib/constants/gs_errors) for a session or master token that is gone or expired. */
const GS_SESSION_GONE = new Set(["390104", "390111", "390112", "390114"]);

export function classifySnowflakeError(error: unknown): FailureKind {
  const f = fieldsOf(error);
  if (
    f.code === SDK_NETWORK_COULD_NOT_CONNECT ||
    f.code === SDK_LARGE_RESULT_NETWORK ||
    f.name === "NetworkError"
  ) {
    // A name that does not resolve is a wrong account, not a flaky network.
    return f.causeCode === "ENOTFOUND" ? "config" : "transient";
  }
  if (TRANSIENT_SOCKET_CODES.has(f.code) || TRANSIENT_SOCKET_CODES.has(f.causeCode))
    return "transient";
  if (f.code === "ENOTFOUND" || f.causeCode === "ENOTFOUND") return "config";
  if (
    f.code === SDK_RESPONSE_FAILURE ||
    f.code === SDK_LARGE_RESULT_FAILURE ||
    f.name === "RequestFailedError"
  ) {
    if (f.status !== undefined && (f.status >= 500 || f.status === 408 || f.status === 429))
      return "transient";
    if (f.status === 401 || f.status === 403) return "auth";
    return "other";
  }
  // An HTML error page from a proxy or load balancer in front of Snowflake.
  if (f.code === SDK_RESPONSE_NOT_JSON) return "transient";
  if (
    f.code === SDK_RESPONSE_INVALID_TOKEN ||
    SDK_DISCONNECTED.has(f.code) ||
    GS_SESSION_GONE.has(f.code)
  ) {
    return "session";
  }
  // The private key could not be read: a wrong passphrase or a key in an unsupported format.
  if (f.code.startsWith("ERR_OSSL") || f.causeCode.startsWith("ERR_OSSL")) return "auth";
  // 390xxx / 394xxx: login refused (390100 wrong password, 390144 bad JWT, 390102 locked, …).
  if (/^39[04]\d{3}$/.test(f.code) || f.sqlState === "28000" || f.sqlState === "08004")
    return "auth";
  // 404xxx / 405xxx: snowflake-sdk refused the connection options before sending anything.
  if (/^40[45]\d{3}$/.test(f.code)) return "config";
  // SQL compilation errors: syntax (001003), object missing or not authorized (002003), …
  if (f.sqlState.startsWith("42") || /^00[12]\d{3}$/.test(f.code)) return "sql";
  return "other";
}

/** The user-facing hint for a failure, naming the variables to check. */
export function hintFor(kind: FailureKind, settings: SnowflakeSettings): string | undefined {
  const user = settings.user ? `user ${settings.user}` : "the workload identity's user";
  switch (kind) {
    case "auth":
      if (settings.auth.kind === "password") {
        return `Snowflake refused the login of ${user}: check ${E.user} and ${E.password}. Accounts that enforce MFA need key-pair auth (${E.privateKeyPath}).`;
      }
      if (settings.auth.kind === "keypair") {
        return `Snowflake refused the key-pair login of ${user}: check ${E.user}, that the user's RSA_PUBLIC_KEY (ALTER USER … SET RSA_PUBLIC_KEY) matches the private key, and ${E.passphrase} for an encrypted key.`;
      }
      return `Snowflake refused the workload identity (${settings.auth.provider}): check that the service user's WORKLOAD_IDENTITY (ISSUER, SUBJECT) matches the token, e.g. repo:OWNER/REPO:ref:refs/heads/main for GitHub Actions with permissions: id-token: write.`;
    case "sql":
      return `The statement did not compile: check that ${E.database}=${settings.database} and ${E.schema}=${settings.schema} exist, that the raw tables were created (ensureRawSchema), and that ${settings.role ? `role ${settings.role}` : "the user's default role"} has privileges on them.`;
    case "config":
      return `Check ${E.account}=${settings.account} (the account identifier, e.g. myorg-myaccount, without .snowflakecomputing.com) and the other SNOWFLAKE_* settings.`;
    case "transient":
      return "A network or service failure persisted through every retry: check connectivity to *.snowflakecomputing.com (proxy, firewall) and https://status.snowflake.com, then run again; loads are idempotent.";
    case "session":
      return "The Snowflake session ended (expired or closed); run again: loads are idempotent.";
    default:
      return undefined;
  }
}

export class SnowflakeWarehouseError extends PipelineError {
  constructor(
    message: string,
    readonly kind: FailureKind,
    /** The statement that failed, when one did (never contains binds or credentials). */
    readonly statement?: string,
    hint?: string,
  ) {
    super(message, 1, hint);
  }
}

/** A statement as it may appear in a message: one line, bounded. */
export function statementForMessage(sql: string, max = 400): string {
  const line = sql.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

/** Code and SQL state of an SDK error, for messages: "(code 002003, SQL state 42S02)". */
export function errorCodes(error: unknown): string {
  const f = fieldsOf(error);
  const parts = [f.code && `code ${f.code}`, f.sqlState && `SQL state ${f.sqlState}`].filter(
    Boolean,
  );
  return parts.length ? ` (${parts.join(", ")})` : "";
}

export function errorMessage(error: unknown): string {
  return fieldsOf(error).message;
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  sleep: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter source. */
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 4,
  baseDelayMs: 1_000,
  maxDelayMs: 15_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

/**
 * Exponential backoff with jitter in [½, 1] of the step, capped: 1 s, 2 s, 4 s … by default.
 * (snowflake-sdk already retries single HTTP requests; this covers failures it gives up on,
 * and connecting, which it retries only for some errors.)
 */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.round(step * (0.5 + policy.random() / 2));
}

/**
 * Runs `operation`, trying again after failures `shouldRetry` accepts, up to the policy's
 * attempts. `beforeRetry` runs before each new attempt (to log, or to reconnect).
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  shouldRetry: (error: unknown) => boolean,
  beforeRetry: (error: unknown, attempt: number, delayMs: number) => void | Promise<void>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= policy.attempts || !shouldRetry(error)) throw error;
      const delay = backoffDelay(policy, attempt);
      await beforeRetry(error, attempt, delay);
      await policy.sleep(delay);
    }
  }
}
