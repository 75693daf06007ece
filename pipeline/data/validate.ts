/**
 * Row validation for the three files: a record is either normalized into the raw table's values
 * or rejected with the column and the reason. The rules are the data-challenge schema's, with the
 * real set's quirks accepted (the older `event` event type, upper-case hashes, empty lists).
 */
import { DATA_FILES, EVENT_TYPES, HASH_LENGTH, PRODUCT_ACTIONS, type DataKind } from "./schema.ts";

export interface Rejection {
  /** 1-based column index, or 0 when the problem is the whole line. */
  columnIndex: number;
  columnName: string;
  reason: string;
}

export type Validated =
  { ok: true; values: (string | null)[] } | { ok: false; rejection: Rejection };

/** Timestamps outside 2000-01-01 .. 2100-01-01 are typos (seconds, microseconds), not events. */
export const MIN_EPOCH_MS = 946_684_800_000;
export const MAX_EPOCH_MS = 4_102_444_800_000;
export const MAX_FIELD_LENGTH = 65_536;

const HEX_DIGIT = new Uint8Array(128);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;

/** A character loop: on the hot path (three hashes per browsing row) it beats a RegExp by ~4x. */
function isHexHash(value: string): boolean {
  if (value.length !== HASH_LENGTH) return false;
  for (let i = 0; i < HASH_LENGTH; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || HEX_DIGIT[code] === 0) return false;
  }
  return true;
}
const INTEGER = /^\d{1,16}$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const PRODUCT_ACTION_SET: ReadonlySet<string> = new Set(PRODUCT_ACTIONS);

class RowError extends Error {
  constructor(
    readonly columnIndex: number,
    reason: string,
  ) {
    super(reason);
  }
}

type ColumnRule = (value: string, index: number, row: readonly string[]) => string | null;

function hash(value: string, index: number): string {
  if (!isHexHash(value)) {
    throw new RowError(index, `expected a ${HASH_LENGTH}-character hex hash, got ${show(value)}`);
  }
  return value;
}

function optionalHash(value: string, index: number): string | null {
  return value === "" ? null : hash(value, index);
}

function epochMs(value: string, index: number): string {
  const ms = INTEGER.test(value) ? Number(value) : Number.NaN;
  if (!(ms >= MIN_EPOCH_MS && ms < MAX_EPOCH_MS)) {
    throw new RowError(
      index,
      `expected epoch milliseconds between 2000 and 2100 (13 digits), got ${show(value)}`,
    );
  }
  return value;
}

/** Python-style `['a', 'b']` (or JSON) lists of hashes, normalized to a JSON array. */
function hashList(value: string, index: number): string | null {
  const items = listItems(value, index);
  if (items === null) return null;
  const hashes = items.map((item) => {
    const unquoted = /^'(.*)'$|^"(.*)"$/.exec(item);
    const text = unquoted ? (unquoted[1] ?? unquoted[2] ?? "") : item;
    if (!isHexHash(text)) {
      throw new RowError(
        index,
        `list item ${show(item)} is not a ${HASH_LENGTH}-character hex hash`,
      );
    }
    return text;
  });
  return JSON.stringify(hashes);
}

/** `[0.1, -2e-3, ...]` lists of numbers, normalized to a JSON array. */
function numberList(value: string, index: number): string | null {
  const items = listItems(value, index);
  if (items === null) return null;
  for (const item of items) {
    if (!NUMBER.test(item)) throw new RowError(index, `list item ${show(item)} is not a number`);
  }
  return `[${items.map((item) => String(Number(item))).join(",")}]`;
}

function listItems(value: string, index: number): string[] | null {
  const text = value.trim();
  if (text === "" || text === "[]") return text === "" ? null : [];
  if (!text.startsWith("[") || !text.endsWith("]")) {
    throw new RowError(index, `expected a bracketed list like [a, b], got ${show(value)}`);
  }
  return text
    .slice(1, -1)
    .split(",")
    .map((item) => item.trim());
}

function categoryPath(value: string, index: number): string | null {
  if (value === "") return null;
  const parts = value.split("/");
  for (const part of parts) {
    if (!isHexHash(part)) {
      throw new RowError(
        index,
        `expected a '/'-separated path of ${HASH_LENGTH}-character hex hashes, got ${show(value)}`,
      );
    }
  }
  return value;
}

function priceBucket(value: string, index: number): string | null {
  if (value === "") return null;
  const bucket = NUMBER.test(value) ? Number(value) : Number.NaN;
  if (!(Number.isInteger(bucket) && bucket >= 1 && bucket <= 10)) {
    throw new RowError(
      index,
      `expected a price bucket from 1 to 10 (like "7.0"), got ${show(value)}`,
    );
  }
  return String(bucket);
}

function eventType(value: string, index: number): string {
  if (!EVENT_TYPE_SET.has(value)) {
    throw new RowError(index, `expected one of ${EVENT_TYPES.join(", ")}, got ${show(value)}`);
  }
  return value;
}

function productAction(value: string, index: number, row: readonly string[]): string | null {
  if (!PRODUCT_ACTION_SET.has(value)) {
    const allowed = PRODUCT_ACTIONS.filter(Boolean).join(", ");
    throw new RowError(index, `expected one of ${allowed} or empty, got ${show(value)}`);
  }
  const type = row[1];
  if (type === "pageview" && value !== "") {
    throw new RowError(index, `a pageview has no product_action, got ${show(value)}`);
  }
  if (type !== "pageview" && value === "") {
    throw new RowError(index, `a ${type} event needs a product_action`);
  }
  return value === "" ? null : value;
}

function productSku(value: string, index: number, row: readonly string[]): string | null {
  if (value === "" && row[1] !== "pageview") {
    throw new RowError(index, `a ${row[1]} event needs a product_sku_hash`);
  }
  return optionalHash(value, index);
}

/** The run whose model answered a served request (a run id, or "unknown"). */
function modelRunId(value: string, index: number): string {
  if (!RUN_ID.test(value)) {
    throw new RowError(
      index,
      `expected a run id (letters, digits, '.', '_', '-'; up to 64), got ${show(value)}`,
    );
  }
  return value;
}
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const RULES: Record<DataKind, ColumnRule[]> = {
  browsing: [hash, eventType, productAction, productSku, epochMs, optionalHash],
  search: [hash, epochMs, numberList, hashList, hashList],
  catalog: [hash, numberList, categoryPath, numberList, priceBucket],
  served: [hash, hash, epochMs, modelRunId],
};

/**
 * Kinds whose valid values are their fields unchanged (an empty field is NULL either way): a valid
 * line of such a file can be staged as it was read, which spares re-serializing every row of the
 * largest file. Search and catalog rows have their lists rewritten as JSON.
 */
export const STAGES_RAW_LINE: Record<DataKind, boolean> = {
  browsing: true,
  search: false,
  catalog: false,
  served: true,
};

export function validateRecord(kind: DataKind, fields: readonly string[]): Validated {
  const columns = DATA_FILES[kind].columns;
  if (fields.length !== columns.length) {
    const blank = fields.length === 1 && fields[0] === "";
    return reject(
      0,
      "",
      blank ? "blank line" : `expected ${columns.length} columns, found ${fields.length}`,
    );
  }
  const rules = RULES[kind];
  const values: (string | null)[] = new Array<string | null>(fields.length);
  try {
    for (let i = 0; i < fields.length; i++) {
      const value = fields[i] as string;
      if (value.length > MAX_FIELD_LENGTH) {
        throw new RowError(
          i,
          `field is ${value.length} characters, over the limit of ${MAX_FIELD_LENGTH}`,
        );
      }
      if (value.includes("\uFFFD")) {
        throw new RowError(i, "not valid UTF-8 (the file must be UTF-8 encoded)");
      }
      values[i] = (rules[i] as ColumnRule)(value, i, fields);
    }
  } catch (error) {
    if (error instanceof RowError) {
      return reject(error.columnIndex + 1, columns[error.columnIndex] ?? "", error.message);
    }
    throw error;
  }
  return { ok: true, values };
}

function reject(columnIndex: number, columnName: string, reason: string): Validated {
  return { ok: false, rejection: { columnIndex, columnName, reason } };
}

function show(value: string): string {
  return value.length > 40 ? `"${value.slice(0, 40)}…" (${value.length} chars)` : `"${value}"`;
}

/**
 * Where each of the kind's columns sits in a file: the header's names matched in any order (the
 * challenge's real search_train.csv has them in another order than its documentation), or the
 * standard order when the file has no header.
 */
export interface ColumnLayout {
  /** Whether line 1 is a header (false: line 1 is already a row in the standard order). */
  header: boolean;
  /** For each of the kind's columns, in schema order, its 0-based position in the file. */
  positions: number[];
  /** Fields per line in the file. */
  width: number;
  /** Header names the kind does not use (ignored). */
  extra: string[];
  /** True when the file's columns are exactly the schema's, in its order. */
  standard: boolean;
}

/** What line 1 says about the file: its layout, or what is wrong with it. */
export type HeaderCheck =
  | { kind: "layout"; layout: ColumnLayout }
  | { kind: "missing-columns"; missing: string[]; found: string[] }
  | { kind: "duplicate-columns"; duplicates: string[] }
  | { kind: "wrong-header" };

export function checkHeader(kind: DataKind, fields: readonly string[]): HeaderCheck {
  const expected: readonly string[] = DATA_FILES[kind].columns;
  const names = fields.map((field) => field.trim().toLowerCase());
  const known = names.filter((name) => expected.includes(name));
  if (known.length === 0) {
    // A first line that is itself a valid row: the header was left off, the columns are standard.
    if (validateRecord(kind, fields).ok) {
      const positions = expected.map((_, i) => i);
      return {
        kind: "layout",
        layout: { header: false, positions, width: expected.length, extra: [], standard: true },
      };
    }
    return { kind: "wrong-header" };
  }
  const duplicates = [...new Set(known.filter((name, i) => known.indexOf(name) !== i))];
  if (duplicates.length > 0) return { kind: "duplicate-columns", duplicates };
  const missing = expected.filter((name) => !names.includes(name));
  if (missing.length > 0) return { kind: "missing-columns", missing, found: names };
  const positions = expected.map((name) => names.indexOf(name));
  return {
    kind: "layout",
    layout: {
      header: true,
      positions,
      width: names.length,
      extra: names.filter((name) => !expected.includes(name)),
      standard: names.length === expected.length && positions.every((p, i) => p === i),
    },
  };
}

/** A line's fields in the schema's order (only lines with the layout's width). */
export function schemaOrder(layout: ColumnLayout, fields: readonly string[]): string[] {
  return layout.positions.map((position) => fields[position] as string);
}

/**
 * The browsing file's fast path: true when a raw line is certainly a valid row, decided in one
 * pass over its characters without splitting it. Anything it is unsure of (quotes, odd spacing,
 * a bad value) returns false and goes through `validateRecord`, which gives the exact reason.
 * Every line accepted here is accepted there too (a property test holds them to it).
 */
export function isValidBrowsingLine(raw: string): boolean {
  return browsingLineTimestamp(raw) >= 0;
}

/**
 * The same check, answering the line's timestamp (epoch ms) when it is certainly valid and -1
 * otherwise: the bulk load's position checksum weighs each line by it.
 */
export function browsingLineTimestamp(raw: string): number {
  let p = hexAt(raw, 0);
  if (p < 0 || raw.charCodeAt(p) !== COMMA) return -1;
  p++;
  let pageview: boolean;
  if (raw.startsWith("pageview,", p)) {
    pageview = true;
    p += 9;
  } else if (raw.startsWith("event_product,", p)) {
    pageview = false;
    p += 14;
  } else if (raw.startsWith("event,", p)) {
    pageview = false;
    p += 6;
  } else return -1;
  const actionEnd = raw.indexOf(",", p);
  if (actionEnd < 0) return -1;
  const action = actionEnd - p;
  if (pageview ? action !== 0 : !FAST_ACTIONS.has(raw.slice(p, actionEnd))) return -1;
  p = actionEnd + 1;
  if (raw.charCodeAt(p) === COMMA) {
    if (!pageview) return -1;
  } else {
    p = hexAt(raw, p);
    if (p < 0 || raw.charCodeAt(p) !== COMMA) return -1;
  }
  p++;
  let ms = 0;
  const digitsStart = p;
  for (let code = raw.charCodeAt(p); code >= 48 && code <= 57; code = raw.charCodeAt(++p)) {
    ms = ms * 10 + (code - 48);
  }
  const digits = p - digitsStart;
  if (digits === 0 || digits > 16 || ms < MIN_EPOCH_MS || ms >= MAX_EPOCH_MS) return -1;
  if (raw.charCodeAt(p) !== COMMA) return -1;
  p++;
  return p === raw.length || hexAt(raw, p) === raw.length ? ms : -1;
}

const COMMA = 44;
const FAST_ACTIONS: ReadonlySet<string> = new Set(PRODUCT_ACTIONS.filter((a) => a !== ""));

/** The index after a 64-character hex hash starting at `start`, or -1. */
function hexAt(raw: string, start: number): number {
  const end = start + HASH_LENGTH;
  if (end > raw.length) return -1;
  for (let i = start; i < end; i++) {
    const code = raw.charCodeAt(i);
    if (code >= 128 || HEX_DIGIT[code] === 0) return -1;
  }
  return end;
}
