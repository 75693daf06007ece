/**
 * The monitoring hook: a sample of the sessions the server was asked about, written as rows of
 * `served_events.csv` (pipeline/monitor/served-events.ts), which the upload stage loads into
 * `raw_served_events` and dbt turns into served sessions for the drift checks.
 *
 * Each logged session becomes one row per SKU: the session id is a hash of the request id and the
 * session's index, the timestamps end at the request's arrival one millisecond apart (so the
 * session's order survives), and the run id of the model that answered. SKUs that are not
 * 64-character hex hashes cannot be loaded as such and are counted, not written.
 *
 * Which requests are logged is decided by a seeded generator, so a run can be replayed.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir } from "node:fs/promises";
import { once } from "node:events";
import { join } from "node:path";
import { PipelineError } from "../errors.ts";
import { DATA_FILES, HASH_LENGTH } from "../data/schema.ts";
import { SERVED_HEADER, servedEventLine, servedSessionEvents } from "../monitor/served-events.ts";
import { Rng, seedWords } from "../prng.ts";

export interface RequestLogOptions {
  /** Folder the log is written under (the lead maps it to the run store). */
  dir: string;
  /** Share of requests logged, from 0 to 1. */
  sampleRate: number;
  /** Seed of the sampling. */
  seed?: number;
  /** The clock, for tests. */
  now?: () => Date;
}

export interface RequestLogSummary {
  /** The CSV written (absent when no request was sampled). */
  file?: string;
  requestsSeen: number;
  requestsLogged: number;
  rows: number;
  /** SKUs left out because they are not 64-character hex hashes. */
  skippedSkus: number;
}

export interface RequestLog {
  /** Logs the request's sessions if it is sampled, with the run id of the model that answered. */
  record(
    requestId: string,
    sessions: readonly (readonly string[])[],
    receivedAt: number,
    modelRunId: string,
  ): void;
  /** Flushes and closes the file; later calls return the same summary, later records are dropped. */
  close(): Promise<RequestLogSummary>;
}

/** An arbitrary constant that keeps the sampling stream apart from other uses of the same seed. */
const SAMPLING_STREAM = 0x5e4e;

const HEX = /^[0-9a-fA-F]+$/;

function isHash(value: string): boolean {
  return value.length === HASH_LENGTH && HEX.test(value);
}

export function createRequestLog(options: RequestLogOptions): RequestLog {
  const { dir, sampleRate } = options;
  if (!(sampleRate >= 0 && sampleRate <= 1)) {
    throw new PipelineError(
      `request log sample rate ${sampleRate} is not a share from 0 to 1`,
      2,
      "set the request log's sample rate to a number such as 0.01 (1% of requests)",
    );
  }
  const rng = Rng.from(...seedWords(options.seed ?? 0), SAMPLING_STREAM);
  const started = (options.now?.() ?? new Date()).toISOString().replace(/[:.]/g, "-");
  // One folder per server start: the upload stage skips a file it has loaded before by its hash,
  // so appending to an old file would load its earlier rows twice.
  const folder = join(dir, `requests-${started}-${process.pid}`);
  const file = join(folder, DATA_FILES.served.file);
  const summary: RequestLogSummary = {
    requestsSeen: 0,
    requestsLogged: 0,
    rows: 0,
    skippedSkus: 0,
  };
  let stream: WriteStream | undefined;
  let opening: Promise<void> | undefined;
  let error: Error | undefined;
  let closed: Promise<RequestLogSummary> | undefined;
  const buffered: string[] = [];

  // The folder is created on the first sampled request, so a server that logs nothing leaves
  // nothing behind; rows are buffered until the file is open.
  const open = async () => {
    await mkdir(folder, { recursive: true });
    stream = createWriteStream(file, { flags: "wx" });
    stream.on("error", (e) => (error = e));
    stream.write(`${SERVED_HEADER}\n`);
    for (const chunk of buffered.splice(0)) stream.write(chunk);
  };

  return {
    record(requestId, sessions, receivedAt, modelRunId) {
      if (closed || error) return; // a failed log is reported by close(), not on every request
      summary.requestsSeen++;
      if (!rng.chance(sampleRate)) return;
      summary.requestsLogged++;
      const lines: string[] = [];
      sessions.forEach((session, index) => {
        for (const event of servedSessionEvents(
          requestId,
          index,
          session,
          receivedAt,
          modelRunId,
        )) {
          if (isHash(event.sku)) lines.push(servedEventLine(event));
          else summary.skippedSkus++;
        }
      });
      if (lines.length === 0) return;
      summary.rows += lines.length;
      const chunk = lines.join("");
      if (stream) stream.write(chunk);
      else {
        buffered.push(chunk);
        opening ??= open().catch((e: unknown) => {
          error = e as Error;
        });
      }
    },
    close() {
      closed ??= (async () => {
        await opening;
        if (stream) {
          stream.end();
          await once(stream, "close");
        }
        if (error) {
          throw new PipelineError(
            `request log ${file} could not be written: ${error.message}`,
            1,
            "check that the request log folder is writable and the disk is not full",
          );
        }
        return stream ? { file, ...summary } : { ...summary };
      })();
      return closed;
    },
  };
}
