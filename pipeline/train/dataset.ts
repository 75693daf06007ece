/**
 * The training dataset, streamed from the warehouse: the sessions of one split, read in pages,
 * become next-item examples (a prefix of the session → the item that follows it), encoded with
 * the vocabulary and grouped into fixed-size batches of `[batch × maxLen]` inputs and `[batch]`
 * targets, the layout `createTrainStep` and `topK` take.
 *
 * Memory stays bounded whatever the number of sessions: one page of sessions (keyset pagination
 * on `session_key`, so every page is one cheap query and no session is read twice or skipped)
 * and, when shuffling, one buffer of encoded examples. Nothing else is held.
 */
import { Rng, seedWords } from "../prng.ts";
import type { Row, SqlValue, Warehouse } from "../warehouse/warehouse.ts";
import { encodePrefix, UNKNOWN_ID } from "./sequences.ts";
import { Vocabulary } from "./vocabulary.ts";

export type Split = "train" | "validation" | "test";
export const SPLITS: readonly Split[] = ["train", "validation", "test"];

/**
 * `all-prefixes`: every prefix of a session predicts its next item (n − 1 examples per session
 * of n items, the usual training set). `last`: only the full history predicts the last item (one
 * example per session, the usual evaluation protocol).
 */
export type ExampleMode = "all-prefixes" | "last";

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
export const DEFAULT_MAX_LEN = 20;
export const DEFAULT_BATCH_SIZE = 256;
export const DEFAULT_SHUFFLE_BUFFER = 10_000;

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
 * The sessions of one split in `session_key` order, one page per query. Each query asks for the
 * sessions after the last key of the page before (keyset pagination): unlike OFFSET, no query
 * sorts and skips the pages before it (a top-N keeps one page), and since the comparison and the
 * ORDER BY use the same collation on each engine, the pages tile the split exactly. The marts
 * have no index, so each page still scans the split: larger pages mean fewer scans.
 */
export async function* readSessions(
  warehouse: Warehouse,
  options: SessionReadOptions,
): AsyncGenerator<Session, void, undefined> {
  const pageSize = positiveInteger(options.pageSize ?? DEFAULT_PAGE_SIZE, "pageSize");
  const relations = options.relations ?? DEFAULT_RELATIONS;
  // The page size is a checked integer written into the text rather than bound: binding LIMIT
  // is not portable across engines and drivers.
  const sql = `select q.session_key, q.items
from ${checkRelation(relations.sequences)} as q
inner join ${checkRelation(relations.splits)} as s on s.session_key = q.session_key
where s.split = $1 and q.session_key > $2
order by q.session_key
limit ${pageSize}`;
  // Every session key is `<session id>-<number>`, never empty, so '' starts before all of them.
  let after = "";
  for (;;) {
    const rows: Row[] = await warehouse.query(sql, [options.split, after]);
    for (const row of rows) {
      const sessionKey = String(row.session_key);
      yield { sessionKey, items: parseItems(row.items ?? null, sessionKey) };
    }
    if (rows.length < pageSize) return;
    after = String(rows[rows.length - 1]?.session_key);
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

export interface ExampleOptions {
  mode?: ExampleMode;
  /** Items of history per example; longer prefixes keep their most recent items. */
  maxLen?: number;
}

/** What a pass over a split adds up to: the run record's counts. */
export interface PassCounts {
  sessions: number;
  /** Every (prefix → next item) pair, unknown targets included. */
  examples: number;
  /** Examples whose target is outside the vocabulary (skipped from the batches). */
  unknownTargets: number;
  /** Examples in the batches: `examples − unknownTargets`. */
  kept: number;
}

function emptyCounts(): PassCounts {
  return { sessions: 0, examples: 0, unknownTargets: 0, kept: 0 };
}

/**
 * The (prefix end, target) positions of one encoded session: for `all-prefixes` every position
 * 1..n−1 (the prefix is ids[0..t), the target ids[t]); for `last` only n−1.
 */
function targetPositions(length: number, mode: ExampleMode): [number, number] {
  return mode === "last" ? [Math.max(length - 1, 1), length] : [1, length];
}

export interface BatchOptions extends SessionReadOptions, ExampleOptions {
  /** Examples per batch; the last batch of a pass holds the remainder. */
  batchSize?: number;
  /**
   * Seeded shuffling for training: examples pass through a buffer of `buffer` examples (default
   * `DEFAULT_SHUFFLE_BUFFER`) and leave it in random order; `epoch` picks a different order per
   * epoch from the same seed. Leave it out for evaluation, which reads in session-key order.
   */
  shuffle?: { seed: number; epoch?: number; buffer?: number };
}

export interface Batch {
  /** Examples in this batch (`batchSize`, or fewer in the last batch). */
  size: number;
  maxLen: number;
  /** Row-major `[size × maxLen]` ids: left-padded with 0, front-truncated. */
  inputs: Int32Array;
  /** `[size]` target ids, never padding or unknown. */
  targets: Int32Array;
}

/** Fixed-capacity storage of encoded examples, one row of `maxLen` ids and one target per slot. */
class ExampleBlock {
  readonly inputs: Int32Array;
  readonly targets: Int32Array;
  length = 0;

  constructor(
    readonly capacity: number,
    readonly maxLen: number,
  ) {
    this.inputs = new Int32Array(capacity * maxLen);
    this.targets = new Int32Array(capacity);
  }

  set(slot: number, row: Int32Array, target: number): void {
    this.inputs.set(row, slot * this.maxLen);
    this.targets[slot] = target;
  }

  copy(from: ExampleBlock, fromSlot: number, toSlot: number): void {
    const start = fromSlot * from.maxLen;
    this.inputs.set(from.inputs.subarray(start, start + from.maxLen), toSlot * this.maxLen);
    this.targets[toSlot] = from.targets[fromSlot] as number;
  }
}

/** Shuffle streams are keyed by this and (seed, epoch), apart from every other use of the seed. */
const SHUFFLE_STREAM = 0x5348_5546;

/**
 * One pass over a split as batches. The generator's return value is the pass's counts (a
 * `for await` loop drops it; use `countExamples` for counts alone).
 *
 * Shuffling is a bounded-buffer shuffle (as tf.data's): the buffer fills with the first examples,
 * then each new example takes the place of one drawn at random, which leaves. Sessions arrive in
 * session-key order, which is a hash of the session id and so unrelated to time or content; the
 * buffer then separates the prefixes of one session from each other. With a buffer at least as
 * large as the split, it is a uniform shuffle.
 */
export async function* batches(
  warehouse: Warehouse,
  vocabulary: Vocabulary,
  options: BatchOptions,
): AsyncGenerator<Batch, PassCounts, undefined> {
  const maxLen = positiveInteger(options.maxLen ?? DEFAULT_MAX_LEN, "maxLen");
  const batchSize = positiveInteger(options.batchSize ?? DEFAULT_BATCH_SIZE, "batchSize");
  const mode = options.mode ?? "all-prefixes";
  const counts = emptyCounts();
  let batch = new ExampleBlock(batchSize, maxLen);
  const full = (): Batch => {
    const out = batch;
    batch = new ExampleBlock(batchSize, maxLen);
    return { size: out.length, maxLen, inputs: out.inputs, targets: out.targets };
  };

  const shuffle = options.shuffle;
  const rng = shuffle
    ? Rng.from(...seedWords(shuffle.seed), SHUFFLE_STREAM, shuffle.epoch ?? 0)
    : undefined;
  const buffer = shuffle
    ? new ExampleBlock(
        positiveInteger(shuffle.buffer ?? DEFAULT_SHUFFLE_BUFFER, "shuffle buffer"),
        maxLen,
      )
    : undefined;

  for await (const session of readSessions(warehouse, options)) {
    counts.sessions++;
    const ids = vocabulary.encode(session.items);
    const [from, to] = targetPositions(ids.length, mode);
    for (let t = from; t < to; t++) {
      counts.examples++;
      const target = ids[t] as number;
      // An unknown target teaches nothing the model can output (the unknown id is never
      // recommended) and would pull probability onto it: skip it, but count it, since the
      // share of unknown targets is what the vocabulary costs the evaluation.
      if (target === UNKNOWN_ID) {
        counts.unknownTargets++;
        continue;
      }
      counts.kept++;
      const row = encodePrefix(ids.subarray(0, t), maxLen);
      if (!buffer || !rng) {
        batch.set(batch.length++, row, target);
      } else if (buffer.length < buffer.capacity) {
        buffer.set(buffer.length++, row, target);
        continue;
      } else {
        // The buffer is full: a random resident leaves for the batch, the new example stays.
        const slot = rng.int(buffer.capacity);
        batch.copy(buffer, slot, batch.length++);
        buffer.set(slot, row, target);
      }
      if (batch.length === batchSize) yield full();
    }
  }

  if (buffer && rng) {
    // Drain the buffer in a random order (Fisher–Yates on slot indices).
    const order = rng.shuffle(Array.from({ length: buffer.length }, (_, i) => i));
    for (const slot of order) {
      batch.copy(buffer, slot, batch.length++);
      if (batch.length === batchSize) yield full();
    }
  }
  if (batch.length > 0) {
    const size = batch.length;
    yield {
      size,
      maxLen,
      inputs: batch.inputs.subarray(0, size * maxLen),
      targets: batch.targets.subarray(0, size),
    };
  }
  return counts;
}

/** The counts of one pass over a split without encoding anything. */
export async function countExamples(
  warehouse: Warehouse,
  vocabulary: Vocabulary,
  options: SessionReadOptions & { mode?: ExampleMode },
): Promise<PassCounts> {
  const mode = options.mode ?? "all-prefixes";
  const counts = emptyCounts();
  for await (const session of readSessions(warehouse, options)) {
    counts.sessions++;
    const [from, to] = targetPositions(session.items.length, mode);
    for (let t = from; t < to; t++) {
      counts.examples++;
      if (vocabulary.id(session.items[t] as string) === UNKNOWN_ID) counts.unknownTargets++;
      else counts.kept++;
    }
  }
  return counts;
}

export interface SplitSummary extends PassCounts {
  /** `unknownTargets / examples` (0 for an empty split). */
  unknownTargetShare: number;
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

/** Counts every split: one streamed pass each. */
export async function summarizeDataset(
  warehouse: Warehouse,
  vocabulary: Vocabulary,
  options: {
    mode?: ExampleMode;
    maxLen?: number;
    pageSize?: number;
    relations?: MartRelations;
  } = {},
): Promise<DatasetSummary> {
  const mode = options.mode ?? "all-prefixes";
  const splits = {} as Record<Split, SplitSummary>;
  for (const split of SPLITS) {
    const counts = await countExamples(warehouse, vocabulary, { ...options, split, mode });
    splits[split] = {
      ...counts,
      unknownTargetShare: counts.examples === 0 ? 0 : counts.unknownTargets / counts.examples,
    };
  }
  return {
    mode,
    maxLen: positiveInteger(options.maxLen ?? DEFAULT_MAX_LEN, "maxLen"),
    vocabularySize: vocabulary.size,
    minCount: vocabulary.minCount,
    trainSkus: vocabulary.trainSkus,
    splits,
  };
}
