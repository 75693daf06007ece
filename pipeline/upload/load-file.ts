/**
 * Loads one data file into its raw table: validate every line, stage the good rows and the
 * rejects as CSV files, then hand both to the warehouse, which commits them with the load record
 * in one transaction. Nothing is lost: read = loaded + rejected (+ the header line).
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { once } from "node:events";
import { InputError } from "../errors.ts";
import { DATA_FILES, type DataKind } from "../data/schema.ts";
import { DEFAULT_MAX_LINE_LENGTH, readCsvLines, type CsvRecord } from "../data/reader.ts";
import {
  STAGES_RAW_LINE,
  checkHeader,
  isValidBrowsingLine,
  validateRecord,
  type Rejection,
} from "../data/validate.ts";
import type { Reporter } from "../reporter.ts";
import type { LoadMeta, LoadRecord, LoadTransaction, Warehouse } from "../warehouse/warehouse.ts";
import { sha256File } from "../data/file-hash.ts";

export interface FileLoadResult {
  kind: DataKind;
  file: string;
  sha256: string;
  bytes: number;
  status: "loaded" | "skipped";
  /** Data records read (the header line is not a record). */
  read: number;
  loaded: number;
  rejected: number;
  /** Records not inserted because this exact file content was loaded before. */
  skipped: number;
  /** Rejects by reason, most frequent first (the reason's text up to its first ':'). */
  rejectReasons: Record<string, number>;
  warnings: string[];
  etlId: string;
  seconds: number;
}

export interface LoadFileOptions {
  kind: DataKind;
  path: string;
  warehouse: Warehouse;
  etlId: string;
  tenant: string;
  reporter: Reporter;
  now?: () => Date;
}

export async function loadFile(options: LoadFileOptions): Promise<FileLoadResult> {
  const started = performance.now();
  const { kind, path, warehouse } = options;
  const { sha256, bytes } = await sha256File(path);
  const meta: LoadMeta = {
    etlId: options.etlId,
    etlTimestamp: (options.now?.() ?? new Date()).toISOString(),
    tenant: options.tenant,
    sourceFile: basename(path),
    sourceHash: sha256,
  };
  const transaction = await warehouse.beginLoad(kind, meta);
  if ("existing" in transaction)
    return skippedResult(options, transaction.existing, bytes, started);

  const work = await mkdtemp(join(tmpdir(), "mlops-upload-"));
  try {
    const staged = await stageFile(options, work, bytes, transaction);
    await transaction.commit({
      rowsRead: staged.read,
      rowsLoaded: staged.loaded,
      rowsRejected: staged.rejected,
    });
    return {
      kind,
      file: path,
      sha256,
      bytes,
      status: "loaded",
      read: staged.read,
      loaded: staged.loaded,
      rejected: staged.rejected,
      skipped: 0,
      rejectReasons: staged.reasons,
      warnings: staged.warnings,
      etlId: options.etlId,
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    await transaction.rollback();
    throw error;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function skippedResult(
  options: LoadFileOptions,
  existing: LoadRecord,
  bytes: number,
  started: number,
): FileLoadResult {
  return {
    kind: options.kind,
    file: options.path,
    sha256: existing.sourceHash,
    bytes,
    status: "skipped",
    read: existing.rowsRead,
    loaded: 0,
    rejected: 0,
    skipped: existing.rowsRead,
    rejectReasons: {},
    warnings: [],
    etlId: existing.etlId,
    seconds: (performance.now() - started) / 1000,
  };
}

interface StagedFile {
  read: number;
  loaded: number;
  rejected: number;
  reasons: Record<string, number>;
  warnings: string[];
}

/** Rows per staged chunk: large enough for the warehouse's bulk path, small enough to overlap. */
const CHUNK_ROWS = 200_000;
/** Chunks handed over but not yet inserted; bounds the temporary disk the staging uses. */
const MAX_PENDING_CHUNKS = 2;

async function stageFile(
  options: LoadFileOptions,
  work: string,
  bytes: number,
  transaction: LoadTransaction,
): Promise<StagedFile> {
  const { kind, path, reporter } = options;
  const rows = new ChunkedRows(work, kind, transaction, () =>
    reporter.info(
      `  inserting rows of ${basename(path)} into ${DATA_FILES[kind].table} as they are validated`,
    ),
  );
  const rejectsPath = join(work, `${kind}.rejects.csv`);
  const rejects = new BufferedWriter(rejectsPath);
  const reasons = new Map<string, number>();
  const warnings: string[] = [];
  const bar = reporter.progress(`  ${basename(path)}`, bytes);
  let read = 0;
  let loaded = 0;
  let rejected = 0;
  let consumed = 0;
  let first = true;
  const passthrough = STAGES_RAW_LINE[kind];
  const certainlyValid = kind === "browsing" ? isValidBrowsingLine : undefined;

  const stage = async (text: string, line: number) => {
    loaded++;
    rows.write(`${text},${line}\n`);
    if (rows.full) await rows.handOver();
  };
  const reject = async (record: CsvRecord, rejection: Rejection) => {
    rejected++;
    const key = rejection.reason.split(":")[0] as string;
    reasons.set(key, (reasons.get(key) ?? 0) + 1);
    const { columnIndex, columnName, reason } = rejection;
    rejects.write(
      `${record.line},${columnIndex},${csvField(columnName)},${csvField(reason)},${csvField(record.raw)}\n`,
    );
    if (rejects.full) await rejects.flush();
  };

  try {
    for await (const batch of readCsvLines(path, { maxLineLength: DEFAULT_MAX_LINE_LENGTH })) {
      for (const record of batch) {
        consumed += record.raw.length + 1;
        if (first) {
          first = false;
          if (isHeader(kind, path, record)) continue;
          warnings.push(
            `${path}: no header line (line 1 is data); columns taken in the standard order ${DATA_FILES[kind].columns.join(",")}`,
          );
        }
        read++;
        if (certainlyValid?.(record.raw)) {
          await stage(record.raw, record.line);
        } else if (record.problem) {
          await reject(record, { columnIndex: 0, columnName: "", reason: record.problem });
        } else {
          const result = validateRecord(kind, record.fields);
          if (!result.ok) await reject(record, result.rejection);
          else if (passthrough) await stage(record.raw, record.line);
          else await stage(result.values.map(csvValue).join(","), record.line);
        }
        if ((read & 0xffff) === 0) bar.update(Math.min(consumed, bytes), read);
      }
    }
    await rows.finish();
    await rejects.close();
    await transaction.addRejects(rejectsPath);
  } finally {
    bar.update(bytes, read);
    bar.stop();
    await Promise.all([rows.abandon(), rejects.close()]);
  }
  if (first) warnings.push(`${path}: the file is empty (no header, no rows)`);
  else if (read === 0) warnings.push(`${path}: the file has a header but no rows`);
  const sorted = [...reasons.entries()].sort((a, b) => b[1] - a[1]);
  return { read, loaded, rejected, reasons: Object.fromEntries(sorted), warnings };
}

/**
 * Whether line 1 is the header. A first line that is a valid row means the header was left off;
 * anything else means the file is not this kind at all, which is a usage error (exit code 2).
 */
function isHeader(kind: DataKind, path: string, record: CsvRecord): boolean {
  const header = record.problem ? "wrong-header" : checkHeader(kind, record.fields);
  if (header === "wrong-header") {
    throw new InputError(
      `this is not ${DATA_FILES[kind].file}: the first line should be the header "${DATA_FILES[kind].columns.join(",")}", found "${record.raw.slice(0, 200)}"`,
      { file: path, line: 1 },
      "Check that the file is the data-challenge file of that name, with its header line.",
    );
  }
  return header === "header";
}

/**
 * Valid rows staged in chunk files. A full chunk is handed to the transaction at once and
 * inserted by the warehouse while the reader validates the next one, so parsing and loading
 * overlap instead of running one after the other.
 */
class ChunkedRows {
  private writer: BufferedWriter | undefined;
  private rowsInChunk = 0;
  private chunkIndex = 0;
  private readonly pending: Promise<void>[] = [];

  constructor(
    private readonly work: string,
    private readonly kind: DataKind,
    private readonly transaction: LoadTransaction,
    private readonly onFirstChunk: () => void,
  ) {}

  write(line: string): void {
    this.writer ??= new BufferedWriter(join(this.work, `${this.kind}.rows.${this.chunkIndex}.csv`));
    this.writer.write(line);
    this.rowsInChunk++;
  }

  get full(): boolean {
    return this.rowsInChunk >= CHUNK_ROWS || (this.writer?.full ?? false);
  }

  /** Flushes the buffer, and hands the chunk over once it holds CHUNK_ROWS rows. */
  async handOver(): Promise<void> {
    const writer = this.writer;
    if (!writer) return;
    if (this.rowsInChunk < CHUNK_ROWS) {
      await writer.flush();
      return;
    }
    await this.closeChunk(writer);
  }

  private async closeChunk(writer: BufferedWriter): Promise<void> {
    this.writer = undefined;
    this.rowsInChunk = 0;
    if (this.chunkIndex++ === 0) this.onFirstChunk();
    await writer.close();
    const inserted = this.transaction
      .addRows(writer.path)
      .then(() => rm(writer.path, { force: true }));
    // Errors surface when the chunk is awaited below; until then keep Node from calling them unhandled.
    inserted.catch(() => undefined);
    this.pending.push(inserted);
    while (this.pending.length > MAX_PENDING_CHUNKS) await this.pending.shift();
  }

  async finish(): Promise<void> {
    if (this.writer) await this.closeChunk(this.writer);
    while (this.pending.length > 0) await this.pending.shift();
  }

  /** After a failure: let queued inserts settle before the caller rolls back. */
  async abandon(): Promise<void> {
    await Promise.allSettled(this.pending);
    await this.writer?.close();
  }
}

function csvValue(value: string | null): string {
  if (value === null) return "";
  return /[",\n\r]/.test(value) ? csvField(value) : value;
}

function csvField(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}

/**
 * Batches small writes into large ones and honours backpressure. `write` is synchronous so the
 * per-row hot path awaits nothing; the caller flushes when `full`.
 */
class BufferedWriter {
  private buffer = "";
  private readonly stream: WriteStream;
  private closed = false;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path);
  }

  write(text: string): void {
    this.buffer += text;
  }

  get full(): boolean {
    return this.buffer.length >= 1 << 20;
  }

  async flush(): Promise<void> {
    const chunk = this.buffer;
    this.buffer = "";
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flush();
    this.stream.end();
    await once(this.stream, "finish");
  }
}
