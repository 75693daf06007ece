/**
 * The upload's fast path for a clean browsing file in a warehouse that reads files itself
 * (DuckDB): the warehouse inserts the whole file with its own parallel CSV scanner while this
 * module reads the same file once, hashing its bytes and checking every line with the validator's
 * fast check. The load is committed only when every line was certainly valid and the inserted
 * rows reconcile with the lines (count and position checksum); anything else (a reject, a blank
 * line before the last row, another column order) rolls it back, and the caller loads the file
 * through the exact line-by-line path instead, which reports every reject at its line.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { DATA_FILES, type DataKind } from "../data/schema.ts";
import { browsingLineTimestamp } from "../data/validate.ts";
import type { Reporter } from "../reporter.ts";
import { addToPositionChecksum } from "../warehouse/position-checksum.ts";
import type { BulkLoader, LoadMeta, LoadRecord } from "../warehouse/warehouse.ts";

/** Kinds whose valid lines go into the raw table as they are, with the line check that vouches. */
const LINE_TIMESTAMP: Partial<Record<DataKind, (line: string) => number>> = {
  browsing: browsingLineTimestamp,
};

/** Beyond this the checksum's products would leave exact integer range. */
const MAX_LINES = 2 ** 31 - 1;

export function bulkLineCheck(kind: DataKind): ((line: string) => number) | undefined {
  return LINE_TIMESTAMP[kind];
}

export type BulkOutcome =
  | { status: "loaded"; record: LoadRecord; sha256: string; rows: number }
  | { status: "existing"; record: LoadRecord }
  /** Nothing was kept: the caller loads the file through the exact path. */
  | { status: "unclean"; reason: string };

export interface BulkLoadOptions {
  kind: DataKind;
  path: string;
  gzip: boolean;
  bytes: number;
  meta: Omit<LoadMeta, "sourceHash">;
  loader: BulkLoader;
  reporter: Reporter;
}

export async function bulkLoad(options: BulkLoadOptions): Promise<BulkOutcome> {
  const { kind, path, loader } = options;
  const check = bulkLineCheck(kind);
  if (!check) return { status: "unclean", reason: `no bulk path for ${kind}` };
  const load = await loader.begin(kind, options.meta, { path, gzip: options.gzip });
  options.reporter.info(
    `  inserting ${basename(path)} with the warehouse's own reader while checking every line`,
  );
  const bar = options.reporter.progress(`  ${basename(path)}`, options.bytes);
  let verdict: Verdict;
  try {
    verdict = await verifyFile(path, kind, options.gzip, check, (bytes, lines) =>
      bar.update(Math.min(bytes, options.bytes), lines),
    );
  } catch (error) {
    // A damaged gzip stream, say: the exact path reports it with its line.
    await load.rollback();
    return { status: "unclean", reason: error instanceof Error ? error.message : String(error) };
  } finally {
    bar.stop();
  }
  if (!verdict.clean) {
    await load.rollback();
    return { status: "unclean", reason: verdict.reason };
  }
  let committed: Awaited<ReturnType<typeof load.commit>>;
  try {
    committed = await load.commit(
      verdict.sha256,
      { rowsRead: verdict.rows, rowsLoaded: verdict.rows, rowsRejected: 0 },
      verdict.checksum,
    );
  } catch (error) {
    // The database could not read what the reader accepted: the exact path will say where.
    return { status: "unclean", reason: error instanceof Error ? error.message : String(error) };
  }
  if ("mismatch" in committed) return { status: "unclean", reason: committed.mismatch };
  if ("existing" in committed) return { status: "existing", record: committed.existing };
  return { status: "loaded", record: committed.record, sha256: verdict.sha256, rows: verdict.rows };
}

type Verdict =
  | { clean: true; sha256: string; rows: number; checksum: number }
  | { clean: false; reason: string };

/**
 * One pass over the file: the sha256 of its bytes as stored, and every line after the header
 * certainly valid. Stops at the first line that is not (the exact path takes over from there).
 * Not the reader's readCsvLines: that decodes before anything could hash the stored bytes, and
 * builds a record per line, a cost this pass (beside DuckDB's insert, on the same cores) skips.
 */
async function verifyFile(
  path: string,
  kind: DataKind,
  gzip: boolean,
  check: (line: string) => number,
  progress: (bytes: number, lines: number) => void,
): Promise<Verdict> {
  const hash = createHash("sha256");
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const decoder = new StringDecoder("utf8");
  const header = DATA_FILES[kind].columns.join(",");
  let carry = "";
  let line = 0;
  let rows = 0;
  let checksum = 0;
  let blankSince = 0;
  let problem: string | undefined;

  // Returns false to stop reading.
  const takeLine = (text: string): boolean => {
    line++;
    const raw = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (line === 1) {
      if ((raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw) === header) return true;
      problem = "the header is not the standard one, in the standard order";
      return false;
    }
    if (raw === "") {
      blankSince ||= line;
      return true;
    }
    if (blankSince) {
      problem = `line ${blankSince} is blank`;
      return false;
    }
    const timestamp = check(raw);
    if (timestamp < 0 || line > MAX_LINES) {
      problem = `line ${line} needs the exact validator`;
      return false;
    }
    rows++;
    checksum = addToPositionChecksum(checksum, line, timestamp);
    return true;
  };

  const take = (text: string): boolean => {
    text = carry + text;
    let start = 0;
    let end: number;
    while ((end = text.indexOf("\n", start)) !== -1) {
      if (!takeLine(text.slice(start, end))) return false;
      start = end + 1;
    }
    carry = text.slice(start);
    return true;
  };

  const text = gzip ? file.pipe(createGunzip()) : file;
  if (gzip) {
    file.on("error", (error) => text.destroy(error));
    // The hash is of the file as stored: the compressed bytes, as the exact path hashes them.
    file.on("data", (chunk) => hash.update(chunk as Buffer));
  }
  let going = true;
  try {
    for await (const chunk of text) {
      if (!gzip) hash.update(chunk as Buffer);
      going = take(decoder.write(chunk as Buffer));
      if (!going) break;
      progress(file.bytesRead, line);
    }
  } finally {
    file.destroy();
    text.destroy();
  }
  if (going) going = take(decoder.end());
  if (going && carry !== "") going = takeLine(carry);
  if (!going) return { clean: false, reason: problem ?? "" };
  if (rows === 0) return { clean: false, reason: "the file has no rows" };
  return { clean: true, sha256: hash.digest("hex"), rows, checksum };
}
