/**
 * The wire format of `POST /invocations`, parsed and checked before anything reaches the model.
 *
 * Two request shapes are accepted:
 *
 *   {"sessions": [["sku", ...], ...], "k": 10}
 *   {"instances": [["sku", ...] | {"session": ["sku", ...]}, ...], "k": 10}
 *
 * The second is SageMaker TF Serving's row format ("instances": one entry per example), so a
 * client written for a TF Serving endpoint can call this one. Every problem becomes an
 * `HttpError` whose message names the field by its path (`sessions[3][2]`), never a 5xx.
 */
import type { SessionPrediction } from "../model/predictor.ts";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    /** Stable, machine-readable: clients branch on it, people read `message`. */
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export interface InvocationLimits {
  maxSessions: number;
  maxK: number;
  /** k when the request gives none. */
  defaultK: number;
}

export interface Invocation {
  sessions: string[][];
  k: number;
}

/** `{"error": {...}}`: the body of every non-2xx answer. */
export function errorBody(error: HttpError, requestId?: string): string {
  return JSON.stringify({
    error: {
      code: error.code,
      message: error.message,
      ...(requestId ? { request_id: requestId } : {}),
    },
  });
}

export interface ModelInfo {
  run_id: string;
  format: string;
  /** The registry's version of the model, when the server was told it. */
  version?: string;
}

export function predictionsBody(
  predictions: readonly SessionPrediction[],
  model: ModelInfo,
): string {
  return JSON.stringify({
    predictions: predictions.map((p) => ({
      items: p.items,
      unknown_skus: p.unknownSkus,
      fallback: p.fallback,
    })),
    model,
  });
}

/** `application/json`, with or without parameters (`; charset=utf-8`), any letter case. */
export function isJsonContentType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(";");
  if (type?.trim().toLowerCase() !== "application/json") return false;
  // A charset other than UTF-8 would be decoded wrongly: refuse it rather than guess.
  return params.every((param) => {
    const [name, value] = param.split("=").map((part) => part.trim().toLowerCase());
    return name !== "charset" || value === "utf-8" || value === "utf8" || value === '"utf-8"';
  });
}

/** Line and column (1-based) of a character offset, for JSON errors a person can find. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const NUMBER = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const HEX4 = /[0-9a-fA-F]{4}/y;

/**
 * The offset of the first syntax error in `text`, or -1 when it is valid JSON. V8's JSON.parse
 * gives no offset for some errors ("Unexpected token … is not valid JSON" echoes the whole body
 * instead), so the error path scans for it. Iterative, so deep nesting cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const open: string[] = [];
  const skipSpace = () => {
    while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  };
  /** Reads a string starting at `i` (a quote); false at the offending character. */
  const string = (): boolean => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 92) {
        const next = text[i + 1];
        if (next === "u") {
          HEX4.lastIndex = i + 2;
          i += 2;
          if (!HEX4.test(text)) return false;
          i += 4;
        } else if (next !== undefined && ESCAPES.has(next)) i += 2;
        else {
          i += 1;
          return false;
        }
      } else i++;
    }
    return false;
  };
  const scalar = (): boolean => {
    const c = text[i];
    if (c === '"') return string();
    const literal = ["true", "false", "null"].find((word) => text.startsWith(word, i));
    if (literal) {
      i += literal.length;
      return true;
    }
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) return false;
    i = NUMBER.lastIndex;
    return true;
  };
  let state: "value" | "key" | "after" = "value";
  for (;;) {
    skipSpace();
    if (state === "value") {
      const c = text[i];
      if (c === "{" || c === "[") {
        i++;
        skipSpace();
        if (text[i] === (c === "{" ? "}" : "]")) {
          i++;
          state = "after";
        } else {
          open.push(c);
          state = c === "{" ? "key" : "value";
        }
      } else if (i < text.length && scalar()) state = "after";
      else return i;
    } else if (state === "key") {
      if (text[i] !== '"' || !string()) return i;
      skipSpace();
      if (text[i] !== ":") return i;
      i++;
      state = "value";
    } else {
      const top = open[open.length - 1];
      if (top === undefined) return i < text.length ? i : -1;
      const c = text[i];
      if (c === ",") {
        i++;
        state = top === "{" ? "key" : "value";
      } else if ((top === "{" && c === "}") || (top === "[" && c === "]")) {
        open.pop();
        i++;
      } else return i;
    }
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    const offset = Math.max(0, jsonErrorOffset(body));
    const { line, column } = lineColumn(body, offset);
    const found =
      offset >= body.length
        ? "unexpected end of the body"
        : `unexpected ${JSON.stringify(body[offset])}`;
    throw new HttpError(
      400,
      "invalid_json",
      `the body is not valid JSON: ${found} at line ${line}, column ${column} (offset ${offset})`,
    );
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  }
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

function invalid(field: string, message: string): HttpError {
  return new HttpError(400, "invalid_request", `${field}: ${message}`);
}

function session(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) {
    throw invalid(path, `expected an array of SKU strings, got ${describe(value)}`);
  }
  const items: unknown[] = value;
  items.forEach((sku, j) => {
    if (typeof sku !== "string") {
      throw new HttpError(
        400,
        "invalid_sku",
        `${path}[${j}]: a SKU must be a string, got ${describe(sku)}`,
      );
    }
  });
  return items as string[];
}

/** An instance is a session, or `{"session": [...]}` (the TF Serving row format's named input). */
function instance(value: unknown, path: string): string[] {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    if (!("session" in value)) {
      throw invalid(path, 'an instance object needs a "session" array of SKU strings');
    }
    return session((value as { session: unknown }).session, `${path}.session`);
  }
  return session(value, path);
}

function readK(value: unknown, limits: InvocationLimits): number {
  if (value === undefined) return limits.defaultK;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > limits.maxK) {
    throw new HttpError(
      400,
      "invalid_k",
      `k: expected an integer from 1 to ${limits.maxK}, got ${describe(value)}`,
    );
  }
  return value;
}

/** Parses and checks a request body; throws `HttpError` (4xx) naming the first problem. */
export function parseInvocation(body: string, limits: InvocationLimits): Invocation {
  if (body.trim() === "") {
    throw new HttpError(
      400,
      "empty_body",
      'the request body is empty: send {"sessions": [["sku", ...]], "k": 10}',
    );
  }
  const json = parseJson(body);
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw invalid(
      "body",
      `expected an object with "sessions" or "instances", got ${describe(json)}`,
    );
  }
  const request = json as Record<string, unknown>;
  const hasSessions = "sessions" in request;
  const hasInstances = "instances" in request;
  if (hasSessions === hasInstances) {
    throw invalid(
      "body",
      hasSessions
        ? 'give either "sessions" or "instances", not both'
        : 'expected a "sessions" (or "instances") array of sessions, each an array of SKU strings',
    );
  }
  const field = hasSessions ? "sessions" : "instances";
  const list = request[field];
  if (!Array.isArray(list)) throw invalid(field, `expected an array, got ${describe(list)}`);
  if (list.length === 0) throw invalid(field, "the array is empty: send at least one session");
  if (list.length > limits.maxSessions) {
    throw new HttpError(
      400,
      "too_many_sessions",
      `${field}: ${list.length} sessions in one request, over the limit of ${limits.maxSessions}; split the request`,
    );
  }
  const k = readK(request.k, limits);
  const items: unknown[] = list;
  const sessions = items.map((value, i) =>
    hasSessions ? session(value, `${field}[${i}]`) : instance(value, `${field}[${i}]`),
  );
  return { sessions, k };
}
