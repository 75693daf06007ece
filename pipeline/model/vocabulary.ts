/**
 * The item vocabulary: SKU → dense id, built from the train split only, so validation and test
 * face the SKUs a deployed model would not know (they map to the unknown id). Ids follow
 * `sequences.ts`: 0 is padding, 1 is unknown, and real items start at 2 in order of descending
 * train frequency, ties by SKU, so the same train split always gives the same ids (and the
 * most popular items get the smallest ids, which keeps a truncated vocabulary a prefix).
 *
 * It ships with the model (the server maps request SKUs with it), so it is plain JSON.
 */
import { FIRST_ITEM_ID, UNKNOWN_ID } from "./sequences.ts";

export const VOCABULARY_FORMAT = "mlops-session-recs/vocabulary@1";

/** The vocabulary as stored next to the model. */
export interface VocabularyJson {
  format: typeof VOCABULARY_FORMAT;
  /** SKUs seen fewer times than this in train map to the unknown id. */
  minCount: number;
  /** `skus[i]` has id `i + FIRST_ITEM_ID`. */
  skus: string[];
  /** Train interactions of `skus[i]` (non-increasing). */
  counts: number[];
  /** Distinct SKUs in train, including those below `minCount`. */
  trainSkus: number;
}

export class Vocabulary {
  private readonly ids: Map<string, number>;

  private constructor(private readonly json: VocabularyJson) {
    this.ids = new Map(json.skus.map((sku, i) => [sku, i + FIRST_ITEM_ID]));
  }

  /**
   * From per-SKU train counts: SKUs with at least `minCount` interactions, by descending count,
   * ties by SKU (code-unit order, the same on every engine and locale).
   */
  static fromCounts(counts: ReadonlyMap<string, number>, minCount = 1): Vocabulary {
    if (!Number.isInteger(minCount) || minCount < 1) {
      throw new RangeError(`minCount must be a positive integer, got ${minCount}`);
    }
    const kept = [...counts].filter(([, n]) => n >= minCount);
    kept.sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0));
    return new Vocabulary({
      format: VOCABULARY_FORMAT,
      minCount,
      skus: kept.map(([sku]) => sku),
      counts: kept.map(([, n]) => n),
      trainSkus: counts.size,
    });
  }

  /** Reads a stored vocabulary, checking it is one this code wrote. */
  static fromJSON(value: unknown): Vocabulary {
    const fail = (why: string): never => {
      throw new Error(`not a vocabulary (${VOCABULARY_FORMAT}): ${why}`);
    };
    if (typeof value !== "object" || value === null) return fail("expected an object");
    const json = value as Partial<Record<keyof VocabularyJson, unknown>>;
    if (json.format !== VOCABULARY_FORMAT) return fail(`format is ${JSON.stringify(json.format)}`);
    const { minCount, skus, counts, trainSkus } = json;
    if (typeof minCount !== "number" || !Number.isInteger(minCount) || minCount < 1)
      return fail("minCount must be a positive integer");
    if (!isArrayOf(skus, (s): s is string => typeof s === "string"))
      return fail("skus must be an array of strings");
    if (
      !isArrayOf(counts, (n): n is number => Number.isInteger(n)) ||
      counts.length !== skus.length
    )
      return fail("counts must be an array of integers as long as skus");
    // The stored SKU order is the id assignment, so it is taken as is; counts out of order or
    // below minCount can only come from a file edited by hand or written by other code.
    if (!counts.every((n, i) => n >= minCount && (i === 0 || n <= (counts[i - 1] as number))))
      return fail("counts must be non-increasing integers of at least minCount");
    if (new Set(skus).size !== skus.length) return fail("skus must be distinct");
    if (typeof trainSkus !== "number" || !Number.isInteger(trainSkus) || trainSkus < skus.length)
      return fail("trainSkus must be an integer of at least skus.length");
    return new Vocabulary({
      format: VOCABULARY_FORMAT,
      minCount,
      skus: [...skus],
      counts: [...counts],
      trainSkus,
    });
  }

  /** Distinct ids, padding and unknown included: the model's `vocabSize`. */
  get size(): number {
    return this.json.skus.length + FIRST_ITEM_ID;
  }

  get minCount(): number {
    return this.json.minCount;
  }

  /** Distinct SKUs seen in train, including those below `minCount`. */
  get trainSkus(): number {
    return this.json.trainSkus;
  }

  /** The id of a SKU: `UNKNOWN_ID` for one outside the vocabulary. */
  id(sku: string): number {
    return this.ids.get(sku) ?? UNKNOWN_ID;
  }

  /** The SKU of a real item id, undefined for padding, unknown or out of range. */
  sku(id: number): string | undefined {
    return this.json.skus[id - FIRST_ITEM_ID];
  }

  /** Train interactions of a SKU in the vocabulary (0 outside it). */
  count(sku: string): number {
    const id = this.ids.get(sku);
    return id === undefined ? 0 : (this.json.counts[id - FIRST_ITEM_ID] as number);
  }

  /** A sequence of SKUs as ids. */
  encode(skus: readonly string[]): Int32Array {
    const out = new Int32Array(skus.length);
    for (let i = 0; i < skus.length; i++) out[i] = this.id(skus[i] as string);
    return out;
  }

  toJSON(): VocabularyJson {
    return {
      ...this.json,
      skus: [...this.json.skus],
      counts: [...this.json.counts],
    };
  }
}

function isArrayOf<T>(value: unknown, item: (v: unknown) => v is T): value is T[] {
  if (!Array.isArray(value)) return false;
  const list: unknown[] = value;
  return list.every((v) => item(v));
}
