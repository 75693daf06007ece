/**
 * A streaming reader for the challenge's CSV files.
 *
 * None of the files' columns can hold a line break (hashes, enums, numbers, bracketed lists), so
 * one record is one physical line. Reading line by line keeps every line number exact and keeps
 * damage local: a broken quote spoils its own line only, never the rest of the file. Lines without
 * a quote character are split directly (the hot path: browsing_train.csv never quotes); lines with
 * quotes are parsed by papaparse, whose RFC 4180 handling reports malformed quoting.
 */
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import Papa from "papaparse";
import { InputError } from "../errors.ts";

/**
 * One line of the file. Its fields are split on first use: a caller with a faster check for
 * well-formed lines (the upload stage's browsing fast path) never pays for the split.
 */
export class CsvRecord {
  private parsed: { fields: string[]; problem?: string } | undefined;

  constructor(
    /** 1-based physical line number in the file. */
    readonly line: number,
    /** The line as it was read (without its line break), for rejects. */
    readonly raw: string,
    private readonly tooLong?: number,
  ) {}

  get fields(): string[] {
    return this.parse().fields;
  }

  /** True when the line was longer than the limit: `raw` then holds its first 200 characters. */
  get truncated(): boolean {
    return this.tooLong !== undefined;
  }

  /** Set when the line cannot be split into fields at all. */
  get problem(): string | undefined {
    return this.parse().problem;
  }

  private parse(): { fields: string[]; problem?: string } {
    this.parsed ??=
      this.tooLong === undefined ? splitFields(this.raw) : tooLongProblem(this.tooLong);
    return this.parsed;
  }
}

export interface ReadOptions {
  /** Lines longer than this many characters are reported instead of parsed. */
  maxLineLength: number;
  /** Characters read per chunk from disk. */
  chunkSize?: number;
  /** Called after each chunk with the bytes read from the file so far (compressed, if it is). */
  onRead?: (fileBytes: number) => void;
}

/** Whether the file starts with gzip's magic bytes (1f 8b), whatever its name. */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/**
 * The file's text: decompressed on the fly when it is gzip (`browsing_train.csv.gz`), so a
 * compressed download is read without an unpacked copy on disk.
 */
function openText(
  path: string,
  chunkSize: number,
): { text: Readable; file: ReturnType<typeof createReadStream> } {
  const file = createReadStream(path, { highWaterMark: chunkSize });
  if (!isGzipFile(path)) {
    file.setEncoding("utf8");
    return { text: file, file };
  }
  const gunzip = createGunzip({ chunkSize });
  file.on("error", (error) => gunzip.destroy(error));
  gunzip.setEncoding("utf8");
  return { text: file.pipe(gunzip), file };
}

export const DEFAULT_MAX_LINE_LENGTH = 1 << 20;

/**
 * Yields the file's records a chunk at a time: one await per megabyte instead of one per line,
 * which on a multi-million-line file is most of the difference between the reader and a raw scan.
 */
export async function* readCsvLines(
  path: string,
  options: ReadOptions,
): AsyncGenerator<CsvRecord[]> {
  // setEncoding('utf8') decodes across chunk boundaries and turns invalid bytes into U+FFFD,
  // which the validator reports as non-UTF-8 input with its line and column.
  const { text: stream, file } = openText(path, options.chunkSize ?? 1 << 20);
  let carry = "";
  let line = 0;
  let oversized = false;
  for await (const chunk of gzipErrors(stream as AsyncIterable<string>, path, () => line)) {
    options.onRead?.(file.bytesRead);
    let text = carry + chunk;
    if (line === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const batch: CsvRecord[] = [];
    let start = 0;
    let end: number;
    while ((end = text.indexOf("\n", start)) !== -1) {
      line++;
      if (oversized) {
        batch.push(
          new CsvRecord(line, text.slice(start, Math.min(end, start + 200)), options.maxLineLength),
        );
        oversized = false;
      } else {
        batch.push(lineRecord(line, stripCr(text.slice(start, end)), options.maxLineLength));
      }
      start = end + 1;
    }
    carry = text.slice(start);
    // A line with no end in sight is cut off here so memory stays bounded; the rest of it is
    // skipped up to the next line break and the whole line is reported once.
    if (carry.length > options.maxLineLength) {
      oversized = true;
      carry = carry.slice(0, 200);
    }
    if (batch.length > 0) yield batch;
  }
  if (carry.length > 0 || oversized) {
    line++;
    yield [
      oversized
        ? new CsvRecord(line, carry, options.maxLineLength)
        : lineRecord(line, stripCr(carry), options.maxLineLength),
    ];
  }
}

/** A damaged gzip stream becomes an error that names the file and how far it got. */
async function* gzipErrors(
  chunks: AsyncIterable<string>,
  path: string,
  lines: () => number,
): AsyncGenerator<string> {
  try {
    yield* chunks;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (!code.startsWith("Z_")) throw error;
    throw new InputError(
      `the gzip stream is damaged after line ${lines()}: ${(error as Error).message}`,
      { file: path },
      "Download or compress the file again (gzip -t FILE tests it).",
    );
  }
}

function stripCr(text: string): string {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

function tooLongProblem(limit: number): { fields: string[]; problem: string } {
  return {
    fields: [],
    problem: `line is longer than ${limit} characters (an absurdly long field, or a missing line break)`,
  };
}

function lineRecord(line: number, raw: string, maxLineLength: number): CsvRecord {
  return raw.length > maxLineLength
    ? new CsvRecord(line, raw.slice(0, 200), maxLineLength)
    : new CsvRecord(line, raw);
}

function splitFields(raw: string): { fields: string[]; problem?: string } {
  if (!raw.includes('"')) return { fields: raw.split(",") };
  const parsed = Papa.parse<string[]>(raw, { delimiter: ",", newline: "\n", quoteChar: '"' });
  const error = parsed.errors[0];
  if (error) return { fields: [], problem: `broken quoting: ${error.message.toLowerCase()}` };
  return { fields: parsed.data[0] ?? [""] };
}
