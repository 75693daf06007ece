/**
 * SageMaker Data Capture, read as production traffic. A real-time endpoint with data capture on
 * writes JSON Lines files to S3 (`<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/*.jsonl`), one
 * record per invocation:
 *
 *   {"captureData": {
 *      "endpointInput":  {"observedContentType": "application/json", "mode": "INPUT",
 *                         "data": "<the request body>", "encoding": "BASE64" | "JSON" | "CSV"},
 *      "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
 *                         "data": "<the response body>", "encoding": "..."}},
 *    "eventMetadata": {"eventId": "<uuid>", "inferenceTime": "2026-01-02T03:04:05Z",
 *                      "inferenceId": "<the caller's, optional>"},
 *    "eventVersion": "0"}
 *
 * The body is base64 unless the endpoint's capture config lists its content type as JSON (then
 * `data` is the body's text). Each request body is parsed by the server's own parser
 * (serve/protocol.ts), so a capture means exactly what the endpoint understood, and each session
 * becomes rows like the server's request log writes (served-events.ts).
 */
import { HASH_LENGTH } from "../data/schema.ts";
import { InputError } from "../errors.ts";
import {
  HttpError,
  jsonErrorOffset,
  parseInvocation,
  type InvocationLimits,
} from "../serve/protocol.ts";
import { validateRunId } from "../store/runs.ts";
import { servedSessionEvents, type ServedEvent } from "./served-events.ts";

export interface DataCaptureReject {
  /** 1-based line of the file. */
  line: number;
  /** What was wrong, naming the record's field (`captureData.endpointInput.data: ...`). */
  reason: string;
}

export interface DataCaptureResult {
  events: ServedEvent[];
  rejects: DataCaptureReject[];
  /** Lines that were records (blank trailing lines are not). */
  records: number;
  /** SKUs left out because they are not 64-character hex hashes. */
  skippedSkus: number;
}

/**
 * The endpoint applied its own limits when it answered; a capture is what it was asked, so the
 * reader does not judge the request again against limits it cannot know.
 */
const NO_LIMITS: InvocationLimits = {
  maxSessions: Number.MAX_SAFE_INTEGER,
  maxK: Number.MAX_SAFE_INTEGER,
  defaultK: 1,
};

const SKU = new RegExp(`^[0-9a-fA-F]{${HASH_LENGTH}}$`);
// Padded standard base64, as SageMaker writes it; Buffer.from would silently skip other characters.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Date.parse also takes local times and free-form dates; a capture's time is always ISO 8601 UTC
// or with an offset, and anything else would be placed at a guessed time.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
const UTF8 = new TextDecoder("utf-8", { fatal: true });
const UNKNOWN_RUN = "unknown";

/** A record's problem, named by its field; becomes a reject of the record's line. */
class RecordError extends Error {}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RecordError(`${field}: ${value === undefined ? "missing" : "expected an object"}`);
  }
  return value as Record<string, unknown>;
}

function string(record: Record<string, unknown>, key: string, field: string): string {
  const value = record[key];
  if (typeof value !== "string") {
    throw new RecordError(
      `${field}.${key}: ${value === undefined ? "missing" : "expected a string"}`,
    );
  }
  return value;
}

/** The body's text, as the endpoint received or sent it. */
function body(capture: Record<string, unknown>, field: string): string {
  const data = string(capture, "data", field);
  const encoding = string(capture, "encoding", field);
  if (encoding === "JSON") return data;
  if (encoding === "BASE64") {
    if (!BASE64.test(data)) throw new RecordError(`${field}.data: not valid base64`);
    try {
      return UTF8.decode(Buffer.from(data, "base64"));
    } catch {
      throw new RecordError(`${field}.data: the decoded body is not UTF-8 text`);
    }
  }
  // CSV (or anything newer): the server answers only application/json bodies.
  throw new RecordError(
    `${field}.encoding: ${JSON.stringify(encoding)} is not a JSON request (expected BASE64 or JSON)`,
  );
}

/**
 * The run id the response names (`{"model": {"run_id": ...}}`, see serve/protocol.ts), or
 * "unknown": a capture of input only, an error answer or another server's response still
 * records what was asked, and the run id lands in a CSV column, so only a valid one is kept.
 */
function answeringRun(output: unknown): string {
  if (typeof output !== "object" || output === null) return UNKNOWN_RUN;
  try {
    const text = body(output as Record<string, unknown>, "captureData.endpointOutput");
    const model = (JSON.parse(text) as { model?: { run_id?: unknown } } | null)?.model;
    const runId = model?.run_id;
    return typeof runId === "string" ? validateRunId(runId) : UNKNOWN_RUN;
  } catch {
    return UNKNOWN_RUN;
  }
}

function recordEvents(line: string, counts: { skippedSkus: number }): ServedEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    // V8's message can echo the whole line (a record may be megabytes): point at the column.
    const offset = Math.max(0, jsonErrorOffset(line));
    const found = offset >= line.length ? "end of line" : JSON.stringify(line[offset]);
    throw new RecordError(`not a JSON record: unexpected ${found} at column ${offset + 1}`);
  }
  const record = object(json, "record");
  const captureData = object(record.captureData, "captureData");
  const input = object(captureData.endpointInput, "captureData.endpointInput");
  const mode = string(input, "mode", "captureData.endpointInput");
  if (mode !== "INPUT") {
    throw new RecordError(
      `captureData.endpointInput.mode: expected "INPUT", got ${JSON.stringify(mode)}`,
    );
  }
  const metadata = object(record.eventMetadata, "eventMetadata");
  const eventId = string(metadata, "eventId", "eventMetadata");
  if (eventId === "") throw new RecordError("eventMetadata.eventId: empty");
  const inferenceTime = string(metadata, "inferenceTime", "eventMetadata");
  const at = ISO_8601.test(inferenceTime) ? Date.parse(inferenceTime) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new RecordError(
      `eventMetadata.inferenceTime: ${JSON.stringify(inferenceTime)} is not an ISO 8601 time`,
    );
  }
  let sessions: string[][];
  try {
    sessions = parseInvocation(body(input, "captureData.endpointInput"), NO_LIMITS).sessions;
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    throw new RecordError(`captureData.endpointInput.data: ${error.message}`);
  }
  const modelRunId = answeringRun(captureData.endpointOutput);
  return sessions.flatMap((session, index) => {
    const skus = session.filter((sku) => SKU.test(sku));
    counts.skippedSkus += session.length - skus.length;
    return servedSessionEvents(eventId, index, skus, at, modelRunId);
  });
}

/**
 * Parses one data capture file's text. A record that cannot be read becomes a reject with its
 * line and a reason naming the field; the other records still count. `file` names the file in
 * the error for a file that is not text at all.
 */
export function parseDataCapture(text: string, file: string): DataCaptureResult {
  // JSON cannot hold a raw NUL byte: such a file is compressed or binary, and one error says so
  // better than a reject per line.
  if (text.includes("\u0000")) {
    throw new InputError(
      "not a data capture file: it is binary (compressed?), not JSON Lines",
      { file },
      "point the loader at the .jsonl files SageMaker Data Capture writes, uncompressed",
    );
  }
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  while (lines.length > 0 && (lines[lines.length - 1] as string).trim() === "") lines.pop();
  const result: DataCaptureResult = {
    events: [],
    rejects: [],
    records: lines.length,
    skippedSkus: 0,
  };
  lines.forEach((line, i) => {
    try {
      // One push per row: spreading a large record's rows as arguments could overflow the stack.
      for (const event of recordEvents(line, result)) result.events.push(event);
    } catch (error) {
      if (!(error instanceof RecordError)) throw error;
      result.rejects.push({ line: i + 1, reason: error.message });
    }
  });
  return result;
}
