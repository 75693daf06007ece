/**
 * Reading a public dataset's file: plain or gzipped (told by its first two bytes, not its name),
 * line by line, a batch of lines per chunk read, so memory stays flat however large the file is.
 */
import { statSync } from "node:fs";
import { InputError } from "../../errors.ts";
import { readCsvLines } from "../reader.ts";

/** One physical line: its 1-based number and its text without the line break. */
export interface Line {
  line: number;
  text: string;
  /** Set when the line was longer than MAX_LINE_CHARS: `text` is then its first 200 characters. */
  tooLong?: true;
}

/** A line longer than this is cut off and reported, never held whole (a file with no breaks). */
export const MAX_LINE_CHARS = 16 << 20;

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

/**
 * The file's lines in batches (one batch per chunk read: one await per megabyte, not per line),
 * by the loader's own reader: gzip told by its magic bytes, a byte-order mark and CR line
 * endings dropped, a damaged gzip stream an error that names the file and the line it got to.
 */
export async function* readLines(path: string): AsyncGenerator<Line[]> {
  for await (const batch of readCsvLines(path, { maxLineLength: MAX_LINE_CHARS })) {
    yield batch.map((record) =>
      record.truncated
        ? { line: record.line, text: record.raw, tooLong: true }
        : { line: record.line, text: record.raw },
    );
  }
}

/** The first line of the file (for the header or layout check), without reading the rest. */
export async function firstLine(path: string): Promise<Line | undefined> {
  for await (const batch of readLines(path)) return batch[0];
  return undefined;
}
