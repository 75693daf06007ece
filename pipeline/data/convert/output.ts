/**
 * What a conversion writes: browsing_train.csv (one row per event), sku_to_content.csv (one row
 * per item, unknown facts empty), a header-only search_train.csv (the public datasets have no
 * search events in the challenge's form) and convert-rejects.csv. Each file is written under a
 * temporary name and renamed when complete, so an interrupted conversion never leaves a
 * half-written file for the upload stage to load as if it were whole.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { once } from "node:events";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { DATA_FILES } from "../schema.ts";
import { HashCache, hashId, type ConvertFormat } from "./ids.ts";

export const REJECTS_FILE = "convert-rejects.csv";
export const REJECTS_HEADER = "file,line,column,reason,raw";

/** The challenge's product actions the public datasets' event kinds become. */
export type Action = "detail" | "add" | "purchase";

/** An item's catalog facts, as far as a dataset knows them (raw ids, hashed when written). */
export interface ItemFacts {
  category?: string;
  priceBucket?: number;
}

/** One input file's accounting: read = written + rejected. */
export interface InputStats {
  file: string;
  /** What the file holds, e.g. "clicks", "buys", "views", "products", "events", "sessions". */
  role: string;
  gzip: boolean;
  /** Records read: data lines (the header is not one); for OTTO's JSON lines, events. */
  read: number;
  /** Records that became output rows (events, or catalog facts). */
  written: number;
  rejected: number;
}

const CHUNK_CHARS = 1 << 20;

/** Buffered writes with backpressure: strings are joined into ~1 MiB chunks before each write. */
class TextFile {
  private readonly stream: WriteStream;
  private parts: string[] = [];
  private size = 0;
  private failure: Error | null = null;
  readonly partial: string;

  constructor(readonly path: string) {
    this.partial = `${path}.partial`;
    this.stream = createWriteStream(this.partial);
    this.stream.on("error", (error) => {
      this.failure ??= error;
    });
  }

  add(text: string): void {
    this.parts.push(text);
    this.size += text.length;
  }

  get full(): boolean {
    return this.size >= CHUNK_CHARS;
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.size === 0) return;
    const chunk = this.parts.join("");
    this.parts = [];
    this.size = 0;
    if (!this.stream.write(chunk, "utf8")) await once(this.stream, "drain");
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await finished(this.stream);
    if (this.failure) throw this.failure;
    await rename(this.partial, this.path);
  }

  async abandon(): Promise<void> {
    this.stream.destroy();
    await rm(this.partial, { force: true });
  }
}

export interface OutputFiles {
  browsing: string;
  search: string;
  catalog: string;
  rejects: string;
}

export class Output {
  readonly files: OutputFiles;
  readonly inputs: InputStats[] = [];
  readonly warnings: string[] = [];
  events = 0;
  /** Rejects by what was wrong: the reason's text up to its first ':'. */
  readonly rejectReasons = new Map<string, number>();
  private readonly browsing: TextFile;
  private readonly rejects: TextFile;
  private readonly sessionHashes: HashCache;
  private readonly itemHashes: HashCache;
  /**
   * Every item seen, with what is known of it (null: nothing yet): one catalog row each. This is
   * the conversion's one structure that grows, per distinct item, never per event.
   */
  private readonly items = new Map<string, ItemFacts | null>();

  private constructor(
    readonly format: ConvertFormat,
    readonly dir: string,
  ) {
    this.files = {
      browsing: join(dir, DATA_FILES.browsing.file),
      search: join(dir, DATA_FILES.search.file),
      catalog: join(dir, DATA_FILES.catalog.file),
      rejects: join(dir, REJECTS_FILE),
    };
    this.browsing = new TextFile(this.files.browsing);
    this.browsing.add(`${DATA_FILES.browsing.columns.join(",")}\n`);
    this.rejects = new TextFile(this.files.rejects);
    this.rejects.add(`${REJECTS_HEADER}\n`);
    this.sessionHashes = new HashCache(format, "session", 1024);
    this.itemHashes = new HashCache(format, "item");
  }

  static async create(format: ConvertFormat, dir: string): Promise<Output> {
    await mkdir(dir, { recursive: true });
    return new Output(format, dir);
  }

  input(file: string, role: string, gzip: boolean): InputStats {
    const stats: InputStats = { file, role, gzip, read: 0, written: 0, rejected: 0 };
    this.inputs.push(stats);
    return stats;
  }

  /** One browsing row; `session` and `item` are the dataset's raw ids. */
  event(session: string, action: Action, item: string, ms: number): void {
    this.browsing.add(
      `${this.sessionHashes.get(session)},event_product,${action},${this.itemHashes.get(item)},${ms},\n`,
    );
    this.events++;
    if (!this.items.has(item)) this.items.set(item, null);
  }

  /** What a catalog input or an event says about an item; a fact already known is kept. */
  item(id: string, facts: ItemFacts): void {
    const known = this.items.get(id);
    if (!known) {
      this.items.set(id, { ...facts });
      return;
    }
    if (known.category === undefined && facts.category !== undefined) {
      known.category = facts.category;
    }
    if (known.priceBucket === undefined && facts.priceBucket !== undefined) {
      known.priceBucket = facts.priceBucket;
    }
  }

  knowsItem(id: string): boolean {
    return this.items.has(id);
  }

  reject(stats: InputStats, line: number, column: string, reason: string, raw: string): void {
    stats.rejected++;
    const what = reason.split(":")[0] ?? reason;
    this.rejectReasons.set(what, (this.rejectReasons.get(what) ?? 0) + 1);
    const shown = raw.length > 1000 ? `${raw.slice(0, 1000)}…` : raw;
    this.rejects.add(
      `${[stats.file, String(line), column, reason, shown].map(csvField).join(",")}\n`,
    );
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  /** Called between batches of lines: writes what is buffered once it reaches a chunk. */
  async drain(): Promise<void> {
    if (this.browsing.full) await this.browsing.flush();
    if (this.rejects.full) await this.rejects.flush();
  }

  get rejected(): number {
    return this.inputs.reduce((sum, input) => sum + input.rejected, 0);
  }

  /**
   * Writes the catalog (in the dataset's item id order, numeric where the ids are: the same bytes
   * whatever order the inputs came in) and the header-only search file, then puts every file in
   * place. Hashes are made row by row here, never held for the whole catalog.
   */
  async close(): Promise<{ items: number }> {
    const catalog = new TextFile(this.files.catalog);
    const search = new TextFile(this.files.search);
    try {
      catalog.add(`${DATA_FILES.catalog.columns.join(",")}\n`);
      const ids = [...this.items.keys()].sort(compareIds);
      for (const id of ids) {
        const facts = this.items.get(id);
        const sku = hashId(this.format, "item", id);
        const category =
          facts?.category === undefined ? "" : hashId(this.format, "category", facts.category);
        const price = facts?.priceBucket === undefined ? "" : String(facts.priceBucket);
        catalog.add(`${sku},,${category},,${price}\n`);
        if (catalog.full) await catalog.flush();
      }
      search.add(`${DATA_FILES.search.columns.join(",")}\n`);
      await Promise.all([this.browsing.close(), this.rejects.close()]);
      await Promise.all([catalog.close(), search.close()]);
      return { items: ids.length };
    } catch (error) {
      await Promise.all([catalog.abandon(), search.abandon()]);
      throw error;
    }
  }

  /** Removes the partial files after a failure: nothing half-written is left behind. */
  async abandon(): Promise<void> {
    await Promise.all([this.browsing.abandon(), this.rejects.abandon()]);
  }
}

/** Shorter digit strings first, then text order: numeric order for the datasets' integer ids. */
function compareIds(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RFC 4180 quoting where needed, so a rejected line's raw text survives as one field. */
function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
