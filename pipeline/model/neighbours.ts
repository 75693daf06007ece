/**
 * Neighbourhood evidence over item ids, for the trained recommender's inference runtime (which
 * blends it with the network's scores) and for the evaluation's V-SKNN baseline (which maps
 * SKUs to ids and ranks what this scores): one implementation, so the baseline a model is
 * compared with and the evidence the model serves with are the same numbers.
 *
 * Ids are integers in [0, itemCount); with the model vocabulary (pipeline/train/sequences.ts)
 * 0 is padding, 1 unknown and real items start at 2 in order of train popularity. Nothing here
 * gives an id a meaning: an id no train session holds simply has no neighbours or successors.
 *
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
 * 5. score(j) = Σ_{neighbours n ∋ j} sim(s, n).
 *
 * The item → sessions index is one CSR array with each posting list in session order, so the
 * candidates are a heap merge from the lists' tails that stops after `sampleSize` distinct
 * sessions, and yields their similarities on the way: nothing scans the train set, and no
 * candidate's items are read. The top neighbours are found by quickselect, not by sorting, and
 * every buffer is allocated once, so scoring a prefix allocates nothing.
 *
 * Successors: the items that directly followed an item in train and how often (every adjacent
 * pair (a, b) of a session counts once per occurrence, as the dbt mart `baseline_next_item`
 * counts), ranked at construction into CSR arrays, so a lookup is a slice.
 */

export interface NeighbourOptions {
  /** Neighbour sessions that vote (k in the paper; default 100). */
  neighbours?: number;
  /** Most recent sessions sharing an item that are compared (m; default 500). */
  sampleSize?: number;
}

export const NEIGHBOUR_DEFAULTS = { neighbours: 100, sampleSize: 500 } as const;

/** Scores of some items: `ids[i]` scores `scores[i]` for i < `length` (ids distinct). */
export interface SparseScores {
  readonly ids: Int32Array;
  readonly scores: Float64Array;
  readonly length: number;
}

/** How often each of `ids[i]` followed an item: `counts[i]`, for i < `length`. */
export interface SuccessorCounts {
  readonly ids: Int32Array;
  readonly counts: Int32Array;
  readonly length: number;
}

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
 * The `count`-th largest of `values[0 .. n)` (-Infinity when there are no more than `count`):
 * the threshold to be among the `count` largest. Quickselect on `scratch`, linear on average.
 */
function cutoff(values: ArrayLike<number>, n: number, count: number, scratch: Float64Array) {
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
 * Max-heap sift of merge lists keyed by the session at their cursor. Lists at equal sessions
 * keep their heap order, which fixes the order their weights add up in.
 */
function siftDown(
  heap: Int32Array,
  from: number,
  size: number,
  postings: Int32Array,
  cursor: Int32Array,
): void {
  let i = from;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= size) return;
    let top = i;
    let topHead = postings[cursor[heap[i] as number] as number] as number;
    for (let child = left; child <= left + 1 && child < size; child++) {
      const head = postings[cursor[heap[child] as number] as number] as number;
      if (head > topHead) {
        top = child;
        topHead = head;
      }
    }
    if (top === i) return;
    const tmp = heap[i] as number;
    heap[i] = heap[top] as number;
    heap[top] = tmp;
    i = top;
  }
}

/**
 * The successor lists as CSR arrays [start, ids, counts]: for each item a, the distinct items
 * that directly followed it with how often, most often first, equal counts by smaller id.
 * The pairs are bucketed by a first (a counting sort), so each list is tallied on its own.
 */
function rankSuccessors(
  sessions: readonly ArrayLike<number>[],
  itemCount: number,
): [Int32Array, Int32Array, Int32Array] {
  const pairStart = new Int32Array(itemCount + 1);
  for (const session of sessions) {
    for (let t = 1; t < session.length; t++) {
      const from = session[t - 1] as number;
      pairStart[from + 1] = (pairStart[from + 1] as number) + 1;
    }
  }
  for (let a = 0; a < itemCount; a++) {
    pairStart[a + 1] = (pairStart[a + 1] as number) + (pairStart[a] as number);
  }
  const next = new Int32Array(pairStart[itemCount] as number);
  const cursor = pairStart.slice(0, itemCount);
  for (const session of sessions) {
    for (let t = 1; t < session.length; t++) {
      const from = session[t - 1] as number;
      next[cursor[from] as number] = session[t] as number;
      cursor[from] = (cursor[from] as number) + 1;
    }
  }

  const start = new Int32Array(itemCount + 1);
  const ids = new Int32Array(next.length);
  const counts = new Int32Array(next.length);
  const tally = new Int32Array(itemCount);
  let size = 0;
  for (let a = 0; a < itemCount; a++) {
    const first = (start[a] = size);
    for (let p = pairStart[a] as number; p < (pairStart[a + 1] as number); p++) {
      const b = next[p] as number;
      if (tally[b] === 0) ids[size++] = b;
      tally[b] = (tally[b] as number) + 1;
    }
    ids.subarray(first, size).sort((x, y) => (tally[y] as number) - (tally[x] as number) || x - y);
    for (let i = first; i < size; i++) {
      const b = ids[i] as number;
      counts[i] = tally[b] as number;
      tally[b] = 0;
    }
  }
  start[itemCount] = size;
  return [start, ids.slice(0, size), counts.slice(0, size)];
}

export class SessionIndex {
  readonly itemCount: number;
  readonly neighbours: number;
  readonly sampleSize: number;

  /** Distinct items of each session, first occurrence first: sessionItems[sessionStart[s] ..). */
  private readonly sessionStart: Int32Array;
  private readonly sessionItems: Int32Array;
  /** Sessions holding each item, ascending: postings[postingStart[i] .. postingStart[i + 1]). */
  private readonly postingStart: Int32Array;
  private readonly postings: Int32Array;
  /** Successors of each item, ranked: successorIds[successorStart[i] .. successorStart[i + 1]). */
  private readonly successorStart: Int32Array;
  private readonly successorIds: Int32Array;
  private readonly successorCounts: Int32Array;

  // Scratch buffers reused by every prefix.
  private readonly weight: Float64Array;
  private readonly weightStamp: Uint32Array;
  private weightEpoch = 0;
  /** Position of each touched item in the view (valid where scoreStamp is current). */
  private readonly slot: Int32Array;
  private readonly scoreStamp: Uint32Array;
  private scoreEpoch = 0;
  private readonly known: Int32Array;
  private readonly candidateSessions: Int32Array;
  private readonly candidateSims: Float64Array;
  private readonly chosen: Int32Array;
  private readonly scratch: Float64Array;
  private readonly mergeCursor: Int32Array;
  private readonly mergeFloor: Int32Array;
  private readonly mergeWeight: Float64Array;
  private readonly mergeHeap: Int32Array;
  private readonly view: { ids: Int32Array; scores: Float64Array; length: number };

  /**
   * @param sessions train sessions as item ids, oldest first (by session start).
   * @param itemCount ids run over [0, itemCount) (the vocabulary size, padding and unknown
   *   included).
   */
  constructor(
    sessions: readonly ArrayLike<number>[],
    itemCount: number,
    options: NeighbourOptions = {},
  ) {
    this.neighbours = positiveInteger(
      options.neighbours ?? NEIGHBOUR_DEFAULTS.neighbours,
      "neighbours",
    );
    this.sampleSize = positiveInteger(
      options.sampleSize ?? NEIGHBOUR_DEFAULTS.sampleSize,
      "sampleSize",
    );
    if (!Number.isSafeInteger(itemCount) || itemCount < 0) {
      throw new RangeError(`itemCount must be a non-negative integer, got ${itemCount}`);
    }
    this.itemCount = itemCount;

    let total = 0;
    for (const session of sessions) total += session.length;
    const starts = new Int32Array(sessions.length + 1);
    const distinct = new Int32Array(total);
    const postingCount = new Int32Array(itemCount + 1);
    const seen = new Uint32Array(itemCount);
    let size = 0;
    sessions.forEach((session, s) => {
      starts[s] = size;
      for (let t = 0; t < session.length; t++) {
        const id = session[t] as number;
        if (!Number.isInteger(id) || id < 0 || id >= itemCount) {
          throw new RangeError(`session ${s} holds id ${id}, outside [0, ${itemCount})`);
        }
        if (seen[id] === s + 1) continue;
        seen[id] = s + 1;
        distinct[size++] = id;
        postingCount[id + 1] = (postingCount[id + 1] as number) + 1;
      }
    });
    starts[sessions.length] = size;
    this.sessionStart = starts;
    this.sessionItems = distinct.slice(0, size);

    for (let i = 0; i < itemCount; i++) {
      postingCount[i + 1] = (postingCount[i + 1] as number) + (postingCount[i] as number);
    }
    this.postingStart = postingCount;
    this.postings = new Int32Array(size);
    const cursor = postingCount.slice(0, itemCount);
    for (let s = 0; s < sessions.length; s++) {
      for (let e = starts[s] as number; e < (starts[s + 1] as number); e++) {
        const id = this.sessionItems[e] as number;
        this.postings[cursor[id] as number] = s;
        cursor[id] = (cursor[id] as number) + 1;
      }
    }

    [this.successorStart, this.successorIds, this.successorCounts] = rankSuccessors(
      sessions,
      itemCount,
    );

    this.weight = new Float64Array(itemCount);
    this.weightStamp = new Uint32Array(itemCount);
    this.slot = new Int32Array(itemCount);
    this.scoreStamp = new Uint32Array(itemCount);
    // A prefix has at most itemCount distinct known items: one posting list each.
    this.known = new Int32Array(itemCount);
    this.candidateSessions = new Int32Array(this.sampleSize);
    this.candidateSims = new Float64Array(this.sampleSize);
    this.chosen = new Int32Array(Math.min(this.neighbours, this.sampleSize));
    this.scratch = new Float64Array(Math.max(this.sampleSize, itemCount));
    this.mergeCursor = new Int32Array(itemCount);
    this.mergeFloor = new Int32Array(itemCount);
    this.mergeWeight = new Float64Array(itemCount);
    this.mergeHeap = new Int32Array(itemCount);
    this.view = {
      ids: new Int32Array(itemCount),
      scores: new Float64Array(itemCount),
      length: 0,
    };
  }

  /**
   * The V-SKNN scores of the items the neighbours of `prefix` hold, in the order they were first
   * reached; empty when no train session shares an item with it. Ids outside [0, itemCount) are
   * ignored (they still count in the prefix's length L).
   *
   * The view and its arrays are this index's buffers, overwritten by the next call: read them
   * (or copy) before scoring another prefix, and do not write to them.
   */
  sknn(prefix: ArrayLike<number>): SparseScores {
    const view = this.view;
    view.length = 0;
    const known = this.weigh(prefix);
    if (known === 0) return view;
    const candidates = this.candidates(known);
    const chosen = this.chooseNeighbours(candidates);
    this.scoreEpoch = nextEpoch(this.scoreEpoch, this.scoreStamp);
    const { ids, scores } = view;
    let touched = 0;
    for (let c = 0; c < chosen; c++) {
      const candidate = this.chosen[c] as number;
      const s = this.candidateSessions[candidate] as number;
      const sim = this.candidateSims[candidate] as number;
      for (let e = this.sessionStart[s] as number; e < (this.sessionStart[s + 1] as number); e++) {
        const id = this.sessionItems[e] as number;
        if (this.scoreStamp[id] !== this.scoreEpoch) {
          this.scoreStamp[id] = this.scoreEpoch;
          this.slot[id] = touched;
          ids[touched] = id;
          scores[touched++] = sim;
        } else {
          const at = this.slot[id] as number;
          scores[at] = (scores[at] as number) + sim;
        }
      }
    }
    view.length = touched;
    return view;
  }

  /**
   * The ids of the `count` highest scores of `view` (an `sknn` result of this index), best first;
   * equal scores by smaller id (with the vocabulary's ids: the more popular item).
   */
  top(view: SparseScores, count: number): number[] {
    const { ids, scores, length } = view;
    const threshold = cutoff(scores, length, count, this.scratch);
    const picked: number[] = [];
    for (let i = 0; i < length; i++) if ((scores[i] as number) >= threshold) picked.push(i);
    picked.sort(
      (a, b) =>
        (scores[b] as number) - (scores[a] as number) || (ids[a] as number) - (ids[b] as number),
    );
    if (picked.length > count) picked.length = count;
    return picked.map((i) => ids[i] as number);
  }

  /**
   * The items that directly followed `item` in train and how often, most often first, equal
   * counts by smaller id; empty for an id outside [0, itemCount) or one that never had a
   * successor. The arrays are read-only views into this index (no copy): do not write to them.
   */
  successors(item: number): SuccessorCounts {
    const known = Number.isInteger(item) && item >= 0 && item < this.itemCount;
    const from = known ? (this.successorStart[item] as number) : 0;
    const to = known ? (this.successorStart[item + 1] as number) : 0;
    return {
      ids: this.successorIds.subarray(from, to),
      counts: this.successorCounts.subarray(from, to),
      length: to - from,
    };
  }

  /**
   * Sets the position weights of the prefix's ids that some session holds; returns how many
   * distinct ones (in `known`, first occurrence first).
   */
  private weigh(prefix: ArrayLike<number>): number {
    this.weightEpoch = nextEpoch(this.weightEpoch, this.weightStamp);
    let known = 0;
    const length = prefix.length;
    for (let i = 0; i < length; i++) {
      const id = prefix[i] as number;
      if (!(id >= 0 && id < this.itemCount && Number.isInteger(id))) continue;
      // No posting list to merge: an id no session holds is as good as an unknown one.
      if (this.postingStart[id] === this.postingStart[id + 1]) continue;
      if (this.weightStamp[id] !== this.weightEpoch) {
        this.weightStamp[id] = this.weightEpoch;
        this.known[known++] = id;
      }
      this.weight[id] = (i + 1) / length;
    }
    return known;
  }

  /**
   * The `sampleSize` most recent sessions holding any of the `lists` known items, most recent
   * first, with their similarities, into candidateSessions/candidateSims; returns how many.
   * A merge of the posting lists from their tails (each list ascends): a session in several
   * lists comes out of each in turn, consecutively (the merge takes the largest id), so its
   * similarity — the weights of the lists it is in — adds up without reading its items.
   */
  private candidates(lists: number): number {
    const cursor = this.mergeCursor;
    const floor = this.mergeFloor;
    const weight = this.mergeWeight;
    const heap = this.mergeHeap;
    const postings = this.postings;
    for (let l = 0; l < lists; l++) {
      const id = this.known[l] as number;
      cursor[l] = (this.postingStart[id + 1] as number) - 1;
      floor[l] = this.postingStart[id] as number;
      weight[l] = this.weight[id] as number;
      heap[l] = l;
    }
    let size = lists;
    for (let i = (size >> 1) - 1; i >= 0; i--) siftDown(heap, i, size, postings, cursor);

    const sessions = this.candidateSessions;
    const sims = this.candidateSims;
    let n = 0;
    let current = -1;
    while (size > 0) {
      const l = heap[0] as number;
      const session = postings[cursor[l] as number] as number;
      if (session !== current) {
        if (n === this.sampleSize) break;
        current = session;
        sessions[n] = current;
        sims[n++] = 0;
      }
      sims[n - 1] = (sims[n - 1] as number) + (weight[l] as number);
      cursor[l] = (cursor[l] as number) - 1;
      if ((cursor[l] as number) < (floor[l] as number)) heap[0] = heap[--size] as number;
      siftDown(heap, 0, size, postings, cursor);
    }
    return n;
  }

  /**
   * The candidates (indices) of the `neighbours` largest similarities into `chosen`; returns
   * how many. Those above the threshold in candidate order, then those equal to it, lower
   * indices first (candidates come most recent first, so recency breaks similarity ties).
   */
  private chooseNeighbours(candidates: number): number {
    const sims = this.candidateSims;
    const threshold = cutoff(sims, candidates, this.neighbours, this.scratch);
    let picked = 0;
    for (let i = 0; i < candidates; i++) {
      if ((sims[i] as number) > threshold) this.chosen[picked++] = i;
    }
    for (let i = 0; i < candidates && picked < this.neighbours; i++) {
      if (sims[i] === threshold) this.chosen[picked++] = i;
    }
    return picked;
  }
}
