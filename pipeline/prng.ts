/**
 * The project's seeded randomness: sfc32 (Chris Doty-Humphrey's small fast counter), seeded
 * through a murmur3-style mixer. Math.random cannot be seeded, and the generator's files must be
 * byte-identical for the same seed (as must the trainer's negative samples and the benchmarks'
 * batches), so all draws go through here.
 *
 * Streams are keyed by integer parts (seed, purpose, session index), so each session draws from
 * its own stream: changing how a session is decorated never shifts the items of another session,
 * and the tests can replay one session's process without writing any file.
 */

const TWO_POW_32 = 4_294_967_296;

/** murmur3's finalizer: a bijective avalanche on 32 bits. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits a safe integer (the user's seed can exceed 32 bits) into two 32-bit words. */
export function seedWords(seed: number): [number, number] {
  const lo = ((seed % TWO_POW_32) + TWO_POW_32) % TWO_POW_32;
  const hi = Math.floor(seed / TWO_POW_32);
  return [lo >>> 0, (((hi % TWO_POW_32) + TWO_POW_32) % TWO_POW_32) >>> 0];
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A stream named by integer parts, e.g. `Rng.from(seedLo, seedHi, STREAM, index)`. */
  static from(...parts: number[]): Rng {
    let h = 0x9e3779b9;
    for (const part of parts) h = fmix32(Math.imul(h ^ (part >>> 0), 0x2545f491) + 0x6a09e667);
    return new Rng(fmix32(h ^ 0x1), fmix32(h ^ 0x2), fmix32(h ^ 0x3));
  }

  private constructor(a: number, b: number, c: number) {
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = 1;
    // sfc32's authors recommend discarding the first outputs so weak seeds decorrelate.
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t0 = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const t = (t0 + this.d) | 0;
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution: plenty for sampling, and exact to reproduce. */
  float(): number {
    return this.uint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  /** Standard normal by Box–Muller (one value per call: simpler to keep streams aligned). */
  normal(): number {
    const u = 1 - this.float(); // (0, 1]: log(0) would be -Infinity
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** How many times a coin with `p` continues before stopping (mean p / (1 - p)), at most `max`. */
  geometric(p: number, max: number): number {
    let k = 0;
    while (k < max && this.float() < p) k++;
    return k;
  }

  /** Index into a cumulative weight table (last entry = total), by binary search. */
  pickCumulative(cumulative: ArrayLike<number>, from = 0, to = cumulative.length): number {
    const base = from > 0 ? (cumulative[from - 1] as number) : 0;
    const target = base + this.float() * ((cumulative[to - 1] as number) - base);
    let lo = from;
    let hi = to - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cumulative[mid] as number) > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Fisher–Yates in place. */
  shuffle<T>(values: T[]): T[] {
    for (let i = values.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = values[i] as T;
      values[i] = values[j] as T;
      values[j] = tmp;
    }
    return values;
  }
}

/** Running sums of weights: the table `Rng` samples from by binary search. */
export function cumulative(values: readonly number[]): Float64Array {
  const out = new Float64Array(values.length);
  let sum = 0;
  values.forEach((v, k) => {
    sum += v;
    out[k] = sum;
  });
  return out;
}

/** A seeded stream of floats in [0, 1), for callers that only need `() => number`. */
export function seededFloats(seed: number): () => number {
  const rng = Rng.from(...seedWords(seed));
  return () => rng.float();
}
