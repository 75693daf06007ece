/**
 * Loads one data file into its raw table: validate every line, stage the good rows and the
 * rejects as CSV files, then hand both to the warehouse, which commits them with the load record
 * in one transaction. Nothing is lost: read = loaded + rejected (+ the header line). A clean
 * browsing file in a warehouse that reads files itself takes the bulk path first (bulk-load.ts).
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { once } from "node:events";
import { InputError } from "../errors.ts";
import { DATA_FILES, type DataKind } from "../data/schema.ts";
import {
  DEFAULT_MAX_LINE_LENGTH,
  isGzipFile,
  readCsvLines,
  type CsvRecord,
} from "../data/reader.ts";
import {
  STAGES_RAW_LINE,
  checkHeader,
  isValidBrowsingLine,
  schemaOrder,
  validateRecord,
  type ColumnLayout,
  type Rejection,
} from "../data/validate.ts";
import type { Reporter } from "../reporter.ts";
import type { LoadMeta, LoadRecord, LoadTransaction, Warehouse } from "../warehouse/warehouse.ts";
import { sha256File } from "../data/file-hash.ts";
import { bulkLineCheck, bulkLoad } from "./bulk-load.ts";

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
  const lineage = {
    etlId: options.etlId,
    etlTimestamp: (options.now?.() ?? new Date()).toISOString(),
    tenant: options.tenant,
    sourceFile: basename(path),
  };
  const bulk = warehouse.bulk && bulkLineCheck(kind) ? warehouse.bulk : undefined;
  // The bulk path hashes the file in the pass that checks it; a file loaded under this name
  // before is hashed first instead, so that loading the same content again costs one read.
  let known: { sha256: string; bytes: number } | undefined;
  if (!bulk || (await bulk.loadedUnderName(kind, lineage.sourceFile))) {
    known = await sha256File(path);
    const existing = await warehouse.findLoad(kind, known.sha256);
    if (existing) return skippedResult(options, existing, known.bytes, started);
  }
  if (bulk) {
    const bytes = known?.bytes ?? (await stat(path)).size;
    const outcome = await bulkLoad({
      kind,
      path,
      gzip: isGzipFile(path),
      bytes,
      meta: lineage,
      loader: bulk,
      reporter: options.reporter,
    });
    if (outcome.status === "existing") {
      return skippedResult(options, outcome.record, bytes, started);
    }
    if (outcome.status === "loaded") {
      const staged = {
        read: outcome.rows,
        loaded: outcome.rows,
        rejected: 0,
        reasons: {},
        warnings: [],
      };
      return loadedResult(options, outcome.sha256, bytes, staged, started);
    }
  }
  const { sha256, bytes } = known ?? (await sha256File(path));
  const meta: LoadMeta = { ...lineage, sourceHash: sha256 };
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
    return loadedResult(options, sha256, bytes, staged, started);
  } catch (error) {
    await transaction.rollback();
    throw error;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A file this call loaded, by the bulk path or in staged chunks. */
function loadedResult(
  options: LoadFileOptions,
  sha256: string,
  bytes: number,
  staged: StagedFile,
  started: number,
): FileLoadResult {
  return {
    kind: options.kind,
    file: options.path,
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

  let layout: ColumnLayout | undefined;
  // Empty lines are held back: at the end of the file they are not rows (the challenge's files
  // end with one), in the middle they are rejects, each with its own line number.
  const blanks: CsvRecord[] = [];
  const validate = async (record: CsvRecord, columns: ColumnLayout) => {
    const fields = record.fields;
    if (!columns.standard && fields.length !== columns.width) {
      await reject(record, {
        columnIndex: 0,
        columnName: "",
        reason: `expected ${columns.width} columns (as the header has), found ${fields.length}`,
      });
      return;
    }
    const result = validateRecord(kind, columns.standard ? fields : schemaOrder(columns, fields));
    if (!result.ok) {
      // Report the column where it is in this file, not where the schema lists it.
      const { columnIndex } = result.rejection;
      const position = columnIndex > 0 ? (columns.positions[columnIndex - 1] ?? 0) + 1 : 0;
      await reject(record, { ...result.rejection, columnIndex: position });
    } else if (passthrough && columns.standard) await stage(record.raw, record.line);
    else await stage(result.values.map(csvValue).join(","), record.line);
  };

  try {
    const reading = {
      maxLineLength: DEFAULT_MAX_LINE_LENGTH,
      onRead: (fileBytes: number) => {
        consumed = fileBytes;
      },
    };
    for await (const batch of readCsvLines(path, reading)) {
      for (const record of batch) {
        if (layout === undefined) {
          layout = columnLayout(kind, path, record);
          if (layout.extra.length > 0) {
            warnings.push(
              `${path}: column(s) ${layout.extra.join(", ")} not used by ${DATA_FILES[kind].table} (ignored)`,
            );
          }
          if (layout.header) continue;
          warnings.push(
            `${path}: no header line (line 1 is data); columns taken in the standard order ${DATA_FILES[kind].columns.join(",")}`,
          );
        }
        if (record.raw === "") {
          blanks.push(record);
          continue;
        }
        for (const blank of blanks.splice(0)) {
          read++;
          await reject(blank, { columnIndex: 0, columnName: "", reason: "blank line" });
        }
        read++;
        if (layout.standard && certainlyValid?.(record.raw)) {
          await stage(record.raw, record.line);
        } else if (record.problem) {
          await reject(record, { columnIndex: 0, columnName: "", reason: record.problem });
        } else {
          await validate(record, layout);
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
  if (layout === undefined) warnings.push(`${path}: the file is empty (no header, no rows)`);
  else if (read === 0) warnings.push(`${path}: the file has a header but no rows`);
  const sorted = [...reasons.entries()].sort((a, b) => b[1] - a[1]);
  return { read, loaded, rejected, reasons: Object.fromEntries(sorted), warnings };
}

/**
 * The file's columns from line 1: a header matched by name in any order, or (a first line that is
 * a valid row) the standard order. A file that is not this kind at all, or lacks a column the
 * table needs, is a usage error (exit code 2) that names what is missing.
 */
function columnLayout(kind: DataKind, path: string, record: CsvRecord): ColumnLayout {
  const expected = DATA_FILES[kind].columns;
  const check = record.problem
    ? ({ kind: "wrong-header" } as const)
    : checkHeader(kind, record.fields);
  const where = { file: path, line: 1 };
  const hint = `Columns are matched by name, in any order; ${DATA_FILES[kind].file} needs ${expected.join(", ")}.`;
  switch (check.kind) {
    case "layout":
      return check.layout;
    case "missing-columns":
      throw new InputError(
        `the header has no column ${check.missing.map((c) => `"${c}"`).join(", ")} (found ${check.found.join(",")})`,
        where,
        hint,
      );
    case "duplicate-columns":
      throw new InputError(
        `the header names ${check.duplicates.map((c) => `"${c}"`).join(", ")} more than once`,
        where,
        hint,
      );
    case "wrong-header":
      throw new InputError(
        `this is not ${DATA_FILES[kind].file}: the first line should be a header naming ${expected.join(",")} (in any order), found "${record.raw.slice(0, 200)}"`,
        where,
        "Check that the file is the data-challenge file of that name, with its header line.",
      );
  }
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
