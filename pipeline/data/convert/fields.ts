/**
 * What the four formats share: the loop over a delimited file's records with its accounting
 * (read = written + rejected), header checks that stop with exit code 2, and the value parsers
 * whose failures become reject reasons ("<what>: <detail>", so rejects group by what).
 */
import { basename } from "node:path";
import { InputError } from "../../errors.ts";
import { isGzipFile } from "../reader.ts";
import { readLines, type Line } from "./input.ts";
// The loader's own window: an event outside is rejected here, with its source line, rather than
// by the upload with a line of the converted file.
import { MAX_EPOCH_MS, MIN_EPOCH_MS } from "../validate.ts";
import type { InputStats, Output } from "./output.ts";
import { isNumericId } from "./ids.ts";

/** Why a record was not converted: the column (name) at fault, empty for the whole line. */
export interface Problem {
  column: string;
  reason: string;
}

export class RecordProblem extends Error {
  constructor(
    readonly column: string,
    reason: string,
  ) {
    super(reason);
  }
}

export function show(value: string): string {
  return value.length > 40 ? `"${value.slice(0, 40)}…" (${value.length} chars)` : `"${value}"`;
}

/** Field names of a header line, compared without case or surrounding spaces. */
export function headerNames(text: string, delimiter: string): string[] {
  return text.split(delimiter).map((name) => name.trim().toLowerCase());
}

export function sameHeader(text: string, delimiter: string, expected: readonly string[]): boolean {
  const names = headerNames(text, delimiter);
  return (
    names.length === expected.length && names.every((n, i) => n === expected[i]?.toLowerCase())
  );
}

/** The file is not the dataset file it was said to be: exit code 2, with what was expected. */
export function layoutError(
  file: string,
  found: string,
  expected: string,
  hint: string,
): InputError {
  return new InputError(
    `not ${expected}: the first line is ${show(found)}`,
    { file, line: 1 },
    hint,
  );
}

export function noRows(file: string): InputError {
  return new InputError(
    "has no rows (an empty file, or a header alone)",
    { file },
    "Pass the dataset's file with its rows.",
  );
}

export interface RecordLoop {
  path: string;
  stats: InputStats;
  out: Output;
  delimiter: string;
  /** Physical lines to skip before the records (the header). */
  skip: number;
  columns: readonly string[];
  /** Converts one record's fields; throws RecordProblem to reject it. */
  record: (fields: string[], line: number) => void;
}

/**
 * Every record of a delimited file through `record`, the bad ones into the rejects file: a wrong
 * column count, a blank or overlong line, or whatever `record` rejects. None of the four
 * datasets quotes its fields, so a split on the delimiter is exact.
 */
export async function eachRecord(loop: RecordLoop): Promise<void> {
  const { stats, out, columns } = loop;
  for await (const batch of readLines(loop.path)) {
    for (const line of batch) {
      if (line.line <= loop.skip) continue;
      stats.read++;
      const problem = lineProblem(line) ?? tryRecord(loop, line, columns);
      if (problem) out.reject(stats, line.line, problem.column, problem.reason, line.text);
      else stats.written++;
    }
    await out.drain();
  }
  if (stats.read === 0) throw noRows(loop.path);
}

function tryRecord(loop: RecordLoop, line: Line, columns: readonly string[]): Problem | undefined {
  const fields = line.text.split(loop.delimiter);
  if (fields.length !== columns.length) {
    return {
      column: "",
      reason: `wrong column count: expected ${columns.length} (${columns.join(loop.delimiter)}), found ${fields.length}`,
    };
  }
  try {
    loop.record(fields, line.line);
    return undefined;
  } catch (error) {
    if (error instanceof RecordProblem) return { column: error.column, reason: error.message };
    throw error;
  }
}

export function lineProblem(line: Line): Problem | undefined {
  if (line.tooLong) return { column: "", reason: "line too long: no line break for 16 MiB" };
  if (line.text.trim() === "") return { column: "", reason: "blank line" };
  if (line.text.includes("\uFFFD")) {
    return { column: "", reason: "not UTF-8: the file must be UTF-8 (or ASCII) encoded" };
  }
  return undefined;
}

export function id(value: string, column: string): string {
  if (!isNumericId(value)) {
    throw new RecordProblem(column, `bad id: expected a non-negative integer, got ${show(value)}`);
  }
  return value;
}

/** A timestamp the upload stage accepts, or the reason it would not. */
export function inRange(ms: number, column: string, value: string): number {
  if (!(ms >= MIN_EPOCH_MS && ms < MAX_EPOCH_MS)) {
    throw new RecordProblem(
      column,
      `timestamp out of range: ${show(value)} is not between 2000 and 2100`,
    );
  }
  return ms;
}

/** Digits of `value` from `start` to `end` as a number, or -1 when any is not a digit. */
function digits(value: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Day `day` of `month` (1-based) in `year` exists. */
function validDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1 || day > (DAYS_IN_MONTH[month - 1] as number))
    return false;
  return month !== 2 || day < 29 || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

/**
 * `2014-04-07T10:51:09.277Z` to epoch ms (fractions past milliseconds are dropped). Parsed by
 * position, not by a RegExp and Date round trip: on YOOCHOOSE's 33 M clicks it was the hot spot.
 */
export function isoMs(value: string, column: string): number {
  const ms = parseIso(value);
  if (Number.isNaN(ms)) {
    throw new RecordProblem(
      column,
      `bad timestamp: expected ISO-8601 UTC like 2014-04-07T10:51:09.277Z, got ${show(value)}`,
    );
  }
  return inRange(ms, column, value);
}

function parseIso(value: string): number {
  const n = value.length;
  if (n < 20 || value.charCodeAt(n - 1) !== 90 /* Z */) return Number.NaN;
  if (value[4] !== "-" || value[7] !== "-" || value[10] !== "T") return Number.NaN;
  if (value[13] !== ":" || value[16] !== ":") return Number.NaN;
  const year = digits(value, 0, 4);
  const month = digits(value, 5, 7);
  const day = digits(value, 8, 10);
  const hour = digits(value, 11, 13);
  const minute = digits(value, 14, 16);
  const second = digits(value, 17, 19);
  let milli = 0;
  if (n > 20) {
    // A fraction: "." and 1..9 digits before the Z.
    if (value[19] !== "." || n < 22 || n > 30) return Number.NaN;
    const fraction = digits(value, 20, n - 1);
    if (fraction < 0) return Number.NaN;
    const places = n - 21;
    milli = places >= 3 ? Math.floor(fraction / 10 ** (places - 3)) : fraction * 10 ** (3 - places);
  }
  if (year < 0 || !validDate(year, month, day)) return Number.NaN;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
    return Number.NaN;
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, milli);
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** `2016-05-09` to epoch ms at midnight UTC. */
export function dateMs(value: string, column: string): number {
  const m = DATE.exec(value);
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  if (!m || !validDate(year, month, day)) {
    throw new RecordProblem(column, `bad date: expected YYYY-MM-DD, got ${show(value)}`);
  }
  return Date.UTC(year, month - 1, day);
}

/** A non-negative integer (milliseconds, offsets, quantities). */
export function count(value: string, column: string, what = "integer"): number {
  const n = /^\d{1,15}$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isNaN(n)) {
    throw new RecordProblem(
      column,
      `bad ${what}: expected a non-negative integer, got ${show(value)}`,
    );
  }
  return n;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function number(value: string, column: string, what = "number"): number {
  if (!NUMBER.test(value)) {
    throw new RecordProblem(column, `bad ${what}: expected a number, got ${show(value)}`);
  }
  return Number(value);
}

/** The input's accounting record, its role and whether it is gzipped. */
export function openInput(out: Output, path: string, role: string): InputStats {
  return out.input(path, role, isGzipFile(path));
}

export function fileName(path: string): string {
  return basename(path).toLowerCase();
}
