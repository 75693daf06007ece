/**
 * Reading a public dataset's file: plain or gzipped (told by its first two bytes, not its name),
 * line by line, a batch of lines per chunk read, so memory stays flat however large the file is.
 */
import { closeSync, openSync, readSync, statSync, createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { InputError } from "../../errors.ts";

/** One physical line: its 1-based number and its text without the line break. */
export interface Line {
  line: number;
  text: string;
  /** Set when the line was longer than MAX_LINE_CHARS: `text` is then its first 200 characters. */
  tooLong?: true;
}

/** A line longer than this is cut off and reported, never held whole (a file with no breaks). */
export const MAX_LINE_CHARS = 16 << 20;

/** True when the file starts with gzip's magic bytes (1f 8b). */
export function isGzip(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** Fails with exit code 2 when the input is missing, a folder or empty. */
export function checkReadable(path: string): void {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) throw new InputError("is not a file", { file: path });
    size = stat.size;
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError("cannot be read: no such file", { file: path }, "Check the --input path.");
  }
  if (size === 0) {
    throw new InputError("is empty", { file: path }, "Pass the dataset's file with its rows.");
  }
}

function open(path: string): Readable {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!isGzip(path)) return file.setEncoding("utf8");
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  // A read error on the file must end the pipeline too, not hang it.
  file.on("error", (error) => gunzip.destroy(error));
  return file.pipe(gunzip).setEncoding("utf8");
}

/**
 * The file's lines in batches (one batch per chunk read: one await per megabyte, not per line).
 * A byte-order mark and CR line endings are dropped. A truncated gzip stream fails with the file
 * named: the lines before it were converted, the rest cannot be.
 */
export async function* readLines(path: string): AsyncGenerator<Line[]> {
  let carry = "";
  let line = 0;
  let oversized = false;
  let carryHead = "";
  try {
    for await (const chunk of open(path) as AsyncIterable<string>) {
      let text = carry + chunk;
      if (line === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      const batch: Line[] = [];
      let start = 0;
      let end: number;
      while ((end = text.indexOf("\n", start)) !== -1) {
        line++;
        batch.push(
          oversized ? cut(line, carryHead) : { line, text: stripCr(text.slice(start, end)) },
        );
        oversized = false;
        start = end + 1;
      }
      carry = text.slice(start);
      if (carry.length > MAX_LINE_CHARS) {
        if (!oversized) carryHead = carry.slice(0, 200);
        oversized = true;
        carry = "";
      }
      if (batch.length > 0) yield batch;
    }
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(
      `cannot be read after line ${line}: ${(error as Error).message}`,
      { file: path, line: line + 1 },
      "A truncated or corrupt .gz file: download it again.",
    );
  }
  if (carry.length > 0 || oversized) {
    line++;
    yield [oversized ? cut(line, carryHead) : { line, text: stripCr(carry) }];
  }
}

function cut(line: number, head: string): Line {
  return { line, text: head, tooLong: true };
}

function stripCr(text: string): string {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

/** The first line of the file (for the header or layout check), without reading the rest. */
export async function firstLine(path: string): Promise<Line | undefined> {
  for await (const batch of readLines(path)) return batch[0];
  return undefined;
}
