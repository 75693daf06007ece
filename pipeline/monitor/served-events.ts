/**
 * Production traffic as rows: each session the model was asked about, one row per SKU in the
 * session's order, with the run id of the model that answered. The server's request log and
 * SageMaker's data capture both come down to these rows, written as `served_events.csv`, which
 * the upload stage loads into `raw_served_events` next to the training data.
 */
import { createHash } from "node:crypto";
import { DATA_FILES } from "../data/schema.ts";

export interface ServedEvent {
  /** 64-hex id of one served session: the hash of its request and its place in the request. */
  sessionId: string;
  /** The SKU as the client sent it (64-hex; others are counted by the writers, not written). */
  sku: string;
  /** Epoch ms: the request's arrival, minus one ms per later SKU, so the order survives. */
  timestampMs: number;
  /** The run whose model answered ("unknown" when the answer did not say). */
  modelRunId: string;
}

/** The id of the `index`-th session of request `requestId`. */
export function servedSessionId(requestId: string, index: number): string {
  return createHash("sha256").update(`${requestId}:${index}`).digest("hex");
}

/** The rows of one served session, in its order, ending at `receivedAt`. */
export function servedSessionEvents(
  requestId: string,
  index: number,
  skus: readonly string[],
  receivedAt: number,
  modelRunId: string,
): ServedEvent[] {
  const sessionId = servedSessionId(requestId, index);
  return skus.map((sku, j) => ({
    sessionId,
    sku,
    timestampMs: receivedAt - (skus.length - 1 - j),
    modelRunId,
  }));
}

export const SERVED_HEADER = DATA_FILES.served.columns.join(",");

export function servedEventLine(event: ServedEvent): string {
  return `${event.sessionId},${event.sku},${event.timestampMs},${event.modelRunId}\n`;
}
