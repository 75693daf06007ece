/**
 * Ids of the public datasets turned into the challenge's 64-hex hashes, and the small structures
 * that keep a multi-gigabyte conversion's memory flat: a bounded hash cache and a distinct counter
 * that holds integer ids as bits.
 */
import { createHash } from "node:crypto";

export const CONVERT_FORMATS = ["yoochoose", "diginetica", "retailrocket", "otto"] as const;
export type ConvertFormat = (typeof CONVERT_FORMATS)[number];

/** What an id names; part of the salt, so a session 42 and an item 42 never share a hash. */
export type IdKind = "session" | "item" | "category";

/**
 * sha256 of `<format>:<kind>:<id>`, lower-case hex: stable across runs and machines, and salted
 * per format so item 42 of YOOCHOOSE and item 42 of OTTO stay two items in one warehouse.
 */
export function hashId(format: ConvertFormat, kind: IdKind, id: string): string {
  return createHash("sha256").update(`${format}:${kind}:${id}`).digest("hex");
}

/**
 * hashId with a memo for the ids that repeat (popular items, the current session). Bounded: past
 * `limit` entries it starts over, so a catalog of millions of items costs at most `limit` hashes
 * in memory while the popular head still hits.
 */
export class HashCache {
  private readonly memo = new Map<string, string>();

  constructor(
    private readonly format: ConvertFormat,
    private readonly kind: IdKind,
    private readonly limit = 100_000,
  ) {}

  get(id: string): string {
    let hash = this.memo.get(id);
    if (hash === undefined) {
      hash = hashId(this.format, this.kind, id);
      if (this.memo.size >= this.limit) this.memo.clear();
      this.memo.set(id, hash);
    }
    return hash;
  }
}

/** The datasets' ids are integers; as bits, 10 million session ids take 1.2 MiB, not a Set's ~400. */
const BITSET_LIMIT = 2 ** 32;

/**
 * Counts distinct ids: decimal integers below 2^32 as bits in a growing bitset, anything else in a
 * Set (which the published datasets never need).
 */
export class DistinctCounter {
  private bits = new Uint8Array(1 << 16);
  private readonly others = new Set<string>();
  private count = 0;

  add(id: string | number): void {
    const n = typeof id === "number" ? id : /^\d{1,10}$/.test(id) ? Number(id) : Number.NaN;
    if (!(Number.isInteger(n) && n >= 0 && n < BITSET_LIMIT)) {
      const key = String(id);
      if (!this.others.has(key)) {
        this.others.add(key);
        this.count++;
      }
      return;
    }
    const byte = Math.floor(n / 8);
    if (byte >= this.bits.length) {
      let size = this.bits.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (n % 8);
    const current = this.bits[byte] as number;
    if ((current & mask) === 0) {
      this.bits[byte] = current | mask;
      this.count++;
    }
  }

  get size(): number {
    return this.count;
  }
}

/** The published datasets' ids: non-negative integers (kept as text, so no precision is lost). */
const NUMERIC_ID = /^\d{1,19}$/;

export function isNumericId(value: string): boolean {
  return NUMERIC_ID.test(value);
}
