/**
 * V-SKNN, the vector-multiplication session-kNN of Ludewig & Jannach, "Evaluation of
 * session-based recommendation algorithms" (2018), one of the strongest simple baselines there:
 *
 * 1. The current session s (length L) is a vector over items: the item at 1-based position i
 *    weighs w(i) = i / L (linear decay, the latest item weighs 1); a repeated item keeps the
 *    weight of its latest position.
 * 2. Candidates: the `sampleSize` most recent train sessions that share at least one item with s
 *    (train sessions are given oldest first, so recency = index).
 * 3. sim(s, n) = Σ_{j ∈ s ∩ n} w(j): the dot product of s's vector with n's binary item vector.
 * 4. Neighbours: the `neighbours` candidates of highest similarity (ties: the more recent).
 * 5. score(j) = Σ_{neighbours n ∋ j} sim(s, n); the top k by score (ties: the more popular in
 *    train, then SKU), filled with the most popular SKUs when fewer than k items scored.
 *
 * Items and sessions are dense integers in typed arrays, the item → sessions index is one CSR
 * array with each posting list in session order, so the candidates are a heap merge from the
 * lists' tails that stops after `sampleSize` distinct sessions, and yields their similarities
 * on the way: nothing scans the train set, and no candidate's items are read. The top
 * neighbours and items are found by quickselect, not by sorting.
 */
import type { EvalSession } from "./catalog.ts";
import { countItems, fillFrom, rankByCount, type BaselineOptions } from "./popularity.ts";
import type { Recommender } from "./recommender.ts";

export interface SknnOptions extends BaselineOptions {
  /** Neighbour sessions that vote (k in the paper; default 100). */
  neighbours?: number;
  /** Most recent sessions sharing an item that are compared (m; default 500). */
  sampleSize?: number;
}

export const SKNN_DEFAULTS = { neighbours: 100, sampleSize: 500 } as const;

function positiveInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Grows a stamp epoch; on wrap-around clears the stamps so old marks never read as current. */
function nextEpoch(epoch: number, stamps: Uint32Array): number {
  if (epoch === 0xffffffff) {
    stamps.fill(0);
    return 1;
  }
  return epoch + 1;
}

/**
 * The `count`-th largest of `values` (-Infinity when there are no more than `count`): the
 * threshold to be among the `count` largest. Quickselect on `scratch`, linear on average.
 */
function cutoff(values: ArrayLike<number>, count: number, scratch: Float64Array): number {
  const n = values.length;
  if (n <= count) return Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) scratch[i] = values[i] as number;
  // The count-th largest sits at index n - count of the ascending order.
  const target = n - count;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = scratch[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((scratch[i] as number) < pivot) i++;
      while ((scratch[j] as number) > pivot) j--;
      if (i <= j) {
        const tmp = scratch[i] as number;
        scratch[i++] = scratch[j] as number;
        scratch[j--] = tmp;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return scratch[target] as number;
}

/**
 * Indices of the `count` largest values, unordered; among values equal to the threshold the
 * lower indices (the candidates come most recent first, so recency breaks similarity ties).
 */
function topIndices(values: Float64Array, count: number, scratch: Float64Array): number[] {
  const threshold = cutoff(values, count, scratch);
  const picked: number[] = [];
  for (let i = 0; i < values.length; i++) if ((values[i] as number) > threshold) picked.push(i);
  for (let i = 0; i < values.length && picked.length < count; i++) {
    if (values[i] === threshold) picked.push(i);
  }
  return picked;
}

/** The `count` ids of highest `score`, best first; ties by id (ids follow train popularity). */
function topByValue(
  ids: readonly number[],
  score: Float64Array,
  count: number,
  scratch: Float64Array,
): number[] {
  const values = ids.map((id) => score[id] as number);
  const threshold = cutoff(values, count, scratch);
  const picked = ids.filter((id) => (score[id] as number) >= threshold);
  picked.sort((a, b) => (score[b] as number) - (score[a] as number) || a - b);
  if (picked.length > count) picked.length = count;
  return picked;
}

export class SknnRecommender implements Recommender {
  readonly name: string;
  readonly kind = "baseline" as const;
  readonly neighbours: number;
  readonly sampleSize: number;
  private readonly excludeLast: boolean;

  /** Item id → SKU; ids follow train popularity (0 = most popular), so id order breaks ties. */
  private readonly skus: string[];
  private readonly ids = new Map<string, number>();
  /** Distinct items of each session: items[sessionStart[s] .. sessionStart[s + 1]). */
  private readonly sessionStart: Int32Array;
  private readonly sessionItems: Int32Array;
  /** Sessions holding each item, ascending: postings[postingStart[i] .. postingStart[i + 1]). */
  private readonly postingStart: Int32Array;
  private readonly postings: Int32Array;

  // Scratch buffers reused by every prefix.
  private readonly weight: Float64Array;
  private readonly weightStamp: Uint32Array;
  private weightEpoch = 0;
  private readonly score: Float64Array;
  private readonly scoreStamp: Uint32Array;
  private scoreEpoch = 0;
  private readonly candidateSessions: Int32Array;
  private readonly candidateSims: Float64Array;
  private readonly scratch: Float64Array;
  private readonly mergeCursor: Int32Array;
  private readonly mergeFloor: Int32Array;
  private readonly mergeWeight: Float64Array;
  private readonly mergeHeap: Int32Array;

  /** @param train train sessions, oldest first (by session start). */
  constructor(train: readonly EvalSession[], options: SknnOptions = {}) {
    this.name = options.name ?? "sknn";
    this.excludeLast = options.excludeLast ?? true;
    this.neighbours = positiveInteger(options.neighbours ?? SKNN_DEFAULTS.neighbours, "neighbours");
    this.sampleSize = positiveInteger(options.sampleSize ?? SKNN_DEFAULTS.sampleSize, "sampleSize");

    this.skus = rankByCount(countItems(train));
    this.skus.forEach((sku, id) => this.ids.set(sku, id));
    const nItems = this.skus.length;

    const starts = new Int32Array(train.length + 1);
    const flat: number[] = [];
    const postingCount = new Int32Array(nItems + 1);
    const seen = new Uint32Array(nItems);
    train.forEach((session, s) => {
      starts[s] = flat.length;
      for (const sku of session.items) {
        const id = this.ids.get(sku) as number;
        if (seen[id] === s + 1) continue;
        seen[id] = s + 1;
        flat.push(id);
        postingCount[id + 1] = (postingCount[id + 1] as number) + 1;
      }
    });
    starts[train.length] = flat.length;
    this.sessionStart = starts;
    this.sessionItems = Int32Array.from(flat);

    for (let i = 0; i < nItems; i++) {
      postingCount[i + 1] = (postingCount[i + 1] as number) + (postingCount[i] as number);
    }
    this.postingStart = postingCount;
    this.postings = new Int32Array(flat.length);
    const cursor = postingCount.slice(0, nItems);
    for (let s = 0; s < train.length; s++) {
      for (let e = starts[s] as number; e < (starts[s + 1] as number); e++) {
        const id = this.sessionItems[e] as number;
        this.postings[cursor[id] as number] = s;
        cursor[id] = (cursor[id] as number) + 1;
      }
    }

    this.weight = new Float64Array(nItems);
    this.weightStamp = new Uint32Array(nItems);
    this.score = new Float64Array(nItems);
    this.scoreStamp = new Uint32Array(nItems);
    this.candidateSessions = new Int32Array(this.sampleSize);
    this.candidateSims = new Float64Array(this.sampleSize);
    this.scratch = new Float64Array(Math.max(this.sampleSize, nItems));
    // A prefix has at most nItems distinct known items: one posting list each.
    this.mergeCursor = new Int32Array(nItems);
    this.mergeFloor = new Int32Array(nItems);
    this.mergeWeight = new Float64Array(nItems);
    this.mergeHeap = new Int32Array(nItems);
  }

  async recommend(prefixes: readonly (readonly string[])[], k: number): Promise<string[][]> {
    return prefixes.map((prefix) => this.recommendOne(prefix, k));
  }

  /** The scores of the items the neighbours of `prefix` hold (for tests and explanations). */
  scores(prefix: readonly string[]): Map<string, number> {
    const touched = this.scorePrefix(prefix);
    return new Map(touched.map((id) => [this.skus[id] as string, this.score[id] as number]));
  }

  private recommendOne(prefix: readonly string[], k: number): string[] {
    const touched = this.scorePrefix(prefix);
    const last = prefix[prefix.length - 1];
    const skip = this.excludeLast ? last : undefined;
    // One more than k, in case the skipped item is among the best.
    const best = topByValue(touched, this.score, k + 1, this.scratch);
    const out: string[] = [];
    const taken = new Set<string>();
    for (let i = 0; i < best.length && out.length < k; i++) {
      const sku = this.skus[best[i] as number] as string;
      if (sku === skip) continue;
      taken.add(sku);
      out.push(sku);
    }
    fillFrom(out, taken, this.skus, k, skip);
    return out;
  }

  /** Fills `score` for the neighbours' items; returns the ids it touched (unordered). */
  private scorePrefix(prefix: readonly string[]): number[] {
    const known = this.weigh(prefix);
    if (known.length === 0) return [];
    const { sessions, sims } = this.candidates(known);
    const chosen = topIndices(sims, this.neighbours, this.scratch);
    this.scoreEpoch = nextEpoch(this.scoreEpoch, this.scoreStamp);
    const touched: number[] = [];
    for (const c of chosen) {
      const s = sessions[c] as number;
      const sim = sims[c] as number;
      for (let e = this.sessionStart[s] as number; e < (this.sessionStart[s + 1] as number); e++) {
        const id = this.sessionItems[e] as number;
        if (this.scoreStamp[id] !== this.scoreEpoch) {
          this.scoreStamp[id] = this.scoreEpoch;
          this.score[id] = 0;
          touched.push(id);
        }
        this.score[id] = (this.score[id] as number) + sim;
      }
    }
    return touched;
  }

  /** Sets the position weights of the prefix's known items; returns their distinct ids. */
  private weigh(prefix: readonly string[]): number[] {
    this.weightEpoch = nextEpoch(this.weightEpoch, this.weightStamp);
    const known: number[] = [];
    const length = prefix.length;
    prefix.forEach((sku, i) => {
      const id = this.ids.get(sku);
      if (id === undefined) return;
      if (this.weightStamp[id] !== this.weightEpoch) {
        this.weightStamp[id] = this.weightEpoch;
        known.push(id);
      }
      this.weight[id] = (i + 1) / length;
    });
    return known;
  }

  /**
   * The `sampleSize` most recent sessions holding any of `items`, most recent first, with their
   * similarities: a merge of the posting lists from their tails (each list ascends). A session
   * in several lists comes out of each in turn, consecutively (the merge takes the largest id),
   * so its similarity — the weights of the lists it is in — adds up without reading its items.
   */
  private candidates(items: readonly number[]): { sessions: Int32Array; sims: Float64Array } {
    // A max-heap of the lists by the session at their cursor (lists are dropped when spent).
    const lists = items.length;
    const cursor = this.mergeCursor;
    const floor = this.mergeFloor;
    const weight = this.mergeWeight;
    const heap = this.mergeHeap;
    const head = (l: number): number => this.postings[cursor[l] as number] as number;
    const siftDown = (from: number, size: number): void => {
      let i = from;
      for (;;) {
        const left = 2 * i + 1;
        let top = i;
        if (left < size && head(heap[left] as number) > head(heap[top] as number)) top = left;
        if (left + 1 < size && head(heap[left + 1] as number) > head(heap[top] as number)) {
          top = left + 1;
        }
        if (top === i) return;
        const tmp = heap[i] as number;
        heap[i] = heap[top] as number;
        heap[top] = tmp;
        i = top;
      }
    };
    let size = 0;
    for (let l = 0; l < lists; l++) {
      const id = items[l] as number;
      cursor[l] = (this.postingStart[id + 1] as number) - 1;
      floor[l] = this.postingStart[id] as number;
      weight[l] = this.weight[id] as number;
      heap[size++] = l;
    }
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(i, size);

    const sessions = this.candidateSessions;
    const sims = this.candidateSims;
    let n = 0;
    let current = -1;
    while (size > 0) {
      const l = heap[0] as number;
      const session = head(l);
      if (session !== current) {
        if (n === this.sampleSize) break;
        current = session;
        sessions[n] = current;
        sims[n++] = 0;
      }
      sims[n - 1] = (sims[n - 1] as number) + (weight[l] as number);
      cursor[l] = (cursor[l] as number) - 1;
      if ((cursor[l] as number) < (floor[l] as number)) heap[0] = heap[--size] as number;
      siftDown(0, size);
    }
    return { sessions: sessions.subarray(0, n), sims: sims.subarray(0, n) };
  }
}
