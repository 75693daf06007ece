/**
 * The training data from the warehouse: the sessions of one split, read in pages (keyset
 * pagination in session order, so every page is one cheap query and no session is read twice
 * or skipped), encoded with the vocabulary into one flat array of ids as they arrive — so only
 * one page of SKU strings is ever held, and a million sessions of five items take 20 MB.
 * ./batches.ts makes the training batches from that.
 */
import type { Row, SqlValue, Warehouse } from "../warehouse/warehouse.ts";
import { UNKNOWN_ID } from "../model/sequences.ts";
import { Vocabulary } from "../model/vocabulary.ts";
import type { ExampleMode } from "./batches.ts";
import type { SessionBlock } from "../model/sessions.ts";

export type Split = "train" | "validation" | "test";
export const SPLITS: readonly Split[] = ["train", "validation", "test"];

/** Where the dbt marts are: relation names as the dbt manifest gives them. */
export interface MartRelations {
  sequences: string;
  splits: string;
}

export const DEFAULT_RELATIONS: MartRelations = {
  sequences: "session_sequences",
  splits: "session_splits",
};

export const DEFAULT_PAGE_SIZE = 5_000;

/**
 * A relation name goes into SQL text (it cannot be bound): allow only dotted identifiers, each
 * bare or double-quoted, which is all the manifest's `relation_name` ever holds.
 */
const RELATION =
  /^(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)(?:\.(?:"[^"]+"|[A-Za-z_][A-Za-z0-9_$]*)){0,2}$/;

function checkRelation(name: string): string {
  if (!RELATION.test(name)) {
    throw new Error(
      `invalid relation name ${JSON.stringify(name)}: expected [database.][schema.]table, each part an identifier or a double-quoted name`,
    );
  }
  return name;
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}

export interface SessionReadOptions {
  split: Split;
  /** Sessions per query. */
  pageSize?: number;
  relations?: MartRelations;
}

export interface Session {
  sessionKey: string;
  items: string[];
}

/**
 * The `items` column as a list of SKUs. DuckDB's list comes back from `Warehouse.query` as JSON
 * text; Snowflake's ARRAY comes back from its driver as JSON text or as an array, depending on
 * the driver's settings. Accepting both keeps this warehouse-neutral.
 */
export function parseItems(value: SqlValue | readonly unknown[], sessionKey: string): string[] {
  let list: unknown = value;
  if (typeof value === "string") {
    try {
      list = JSON.parse(value);
    } catch {
      throw new Error(
        `session ${sessionKey}: items is not a JSON array: ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
  }
  if (!Array.isArray(list)) {
    throw new Error(`session ${sessionKey}: items is not a list (got ${typeof value})`);
  }
  const items: unknown[] = list;
  for (const item of items) {
    if (typeof item !== "string") {
      throw new Error(
        `session ${sessionKey}: items holds ${JSON.stringify(item)}, expected SKU strings`,
      );
    }
  }
  return items as string[];
}

/**
 * The sessions of one split in session order — by start time, then key — one page per query.
 * Each query asks for the sessions after the last one of the page before (keyset pagination):
 * unlike OFFSET, no query sorts and skips the pages before it (a top-N keeps one page), and
 * since the comparison and the ORDER BY use the same order on each engine, the pages tile the
 * split exactly. Time order matters to the neighbourhood evidence (V-SKNN prefers recent
 * sessions); training shuffles anyway. The marts have no index, so each page still scans the
 * split: larger pages mean fewer scans.
 */
export async function* readSessions(
  warehouse: Warehouse,
  options: SessionReadOptions,
): AsyncGenerator<Session, void, undefined> {
  const pageSize = positiveInteger(options.pageSize ?? DEFAULT_PAGE_SIZE, "pageSize");
  const relations = options.relations ?? DEFAULT_RELATIONS;
  // The page size is a checked integer written into the text rather than bound: binding LIMIT
  // is not portable across engines and drivers. The row-value comparison is spelt out, since
  // not every engine has (a, b) > (c, d).
  const sql = `select q.session_key, q.session_start_ms, q.items
from ${checkRelation(relations.sequences)} as q
inner join ${checkRelation(relations.splits)} as s on s.session_key = q.session_key
where s.split = $1
  and (q.session_start_ms > $2 or (q.session_start_ms = $2 and q.session_key > $3))
order by q.session_start_ms, q.session_key
limit ${pageSize}`;
  // Every session key is `<session id>-<number>`, never empty, so '' starts before all of them.
  let after: [number, string] = [Number.MIN_SAFE_INTEGER, ""];
  for (;;) {
    const rows: Row[] = await warehouse.query(sql, [options.split, ...after]);
    for (const row of rows) {
      const sessionKey = String(row.session_key);
      yield { sessionKey, items: parseItems(row.items ?? null, sessionKey) };
    }
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1] as Row;
    after = [Number(last.session_start_ms), String(last.session_key)];
  }
}

/**
 * The vocabulary of the train split: every SKU's interactions counted over the train sequences
 * (the same counts as `item_catalog.train_popularity`), streamed page by page.
 */
export async function buildVocabulary(
  warehouse: Warehouse,
  options: { minCount?: number; pageSize?: number; relations?: MartRelations } = {},
): Promise<Vocabulary> {
  const counts = new Map<string, number>();
  for await (const session of readSessions(warehouse, { ...options, split: "train" })) {
    for (const sku of session.items) counts.set(sku, (counts.get(sku) ?? 0) + 1);
  }
  return Vocabulary.fromCounts(counts, options.minCount ?? 1);
}

/** What a split adds up to: the run record's counts. */
export interface SplitSummary {
  sessions: number;
  /** Every (prefix → next item) pair the example mode makes, unknown targets included. */
  examples: number;
  /** Examples whose target is outside the vocabulary (never loss rows). */
  unknownTargets: number;
  /** Examples with a known target: `examples − unknownTargets`. */
  kept: number;
  /** `unknownTargets / examples` (0 for an empty split). */
  unknownTargetShare: number;
}

/** One split's sessions, encoded with the vocabulary, in session order (oldest first). */
export async function loadSplit(
  warehouse: Warehouse,
  vocabulary: Vocabulary,
  options: SessionReadOptions,
): Promise<SessionBlock> {
  const offsets = [0];
  let ids = new Int32Array(1 << 16);
  let size = 0;
  for await (const session of readSessions(warehouse, options)) {
    if (size + session.items.length > ids.length) {
      const grown = new Int32Array(Math.max(ids.length * 2, size + session.items.length));
      grown.set(ids.subarray(0, size));
      ids = grown;
    }
    ids.set(vocabulary.encode(session.items), size);
    size += session.items.length;
    offsets.push(size);
  }
  return { offsets: Int32Array.from(offsets), ids: ids.slice(0, size) };
}

/** The counts of a split under an example mode (all-prefixes and sequence count alike). */
export function summarizeSplit(block: SessionBlock, mode: ExampleMode): SplitSummary {
  const counts = { sessions: 0, examples: 0, unknownTargets: 0 };
  for (let s = 0; s + 1 < block.offsets.length; s++) {
    const from = block.offsets[s] as number;
    const to = block.offsets[s + 1] as number;
    counts.sessions++;
    for (let t = mode === "last" ? Math.max(to - 1, from + 1) : from + 1; t < to; t++) {
      counts.examples++;
      if (block.ids[t] === UNKNOWN_ID) counts.unknownTargets++;
    }
  }
  const kept = counts.examples - counts.unknownTargets;
  return {
    ...counts,
    kept,
    unknownTargetShare: counts.examples === 0 ? 0 : counts.unknownTargets / counts.examples,
  };
}

/** What the run record says about the dataset. */
export interface DatasetSummary {
  mode: ExampleMode;
  maxLen: number;
  /** The model's `vocabSize`: items plus padding and unknown. */
  vocabularySize: number;
  minCount: number;
  /** Distinct SKUs in train, including those below `minCount`. */
  trainSkus: number;
  splits: Record<Split, SplitSummary>;
}
