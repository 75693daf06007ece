/**
 * The k best entries of one row of scores, for ranking a model's logits over the whole
 * vocabulary (k ≈ 20 of 10k+ ids, once per request or evaluation prefix).
 *
 * A k-sized min-heap holds the best seen so far, its worst entry at the root; an entry enters only
 * when it beats the root, and once the heap is full almost every score is rejected by that one
 * comparison, so the pass is linear in practice (O(n log k) at worst) and nothing is sorted but
 * the final k. The exclusion list (padding, unknown, the items already in the session) is only
 * consulted for an entry that would enter, so its size does not multiply the scan.
 */

/** Whether (va, ia) ranks below (vb, ib): a lower score, or the same score and a larger id. */
function worse(va: number, ia: number, vb: number, ib: number): boolean {
  return va < vb || (va === vb && ia > ib);
}

function excluded(id: number, exclude: ArrayLike<number>): boolean {
  for (let e = 0; e < exclude.length; e++) if (exclude[e] === id) return true;
  return false;
}

/** Restores the heap below `at` (the worst entry at 0) in the first `size` slots. */
function siftDown(ids: Int32Array, values: Float32Array, size: number, at: number): void {
  const id = ids[at] as number;
  const value = values[at] as number;
  let hole = at;
  for (;;) {
    let child = 2 * hole + 1;
    if (child >= size) break;
    const right = child + 1;
    if (
      right < size &&
      worse(
        values[right] as number,
        ids[right] as number,
        values[child] as number,
        ids[child] as number,
      )
    ) {
      child = right;
    }
    if (!worse(values[child] as number, ids[child] as number, value, id)) break;
    ids[hole] = ids[child] as number;
    values[hole] = values[child] as number;
    hole = child;
  }
  ids[hole] = id;
  values[hole] = value;
}

function siftUp(ids: Int32Array, values: Float32Array, at: number): void {
  const id = ids[at] as number;
  const value = values[at] as number;
  let hole = at;
  while (hole > 0) {
    const parent = (hole - 1) >> 1;
    if (!worse(value, id, values[parent] as number, ids[parent] as number)) break;
    ids[hole] = ids[parent] as number;
    values[hole] = values[parent] as number;
    hole = parent;
  }
  ids[hole] = id;
  values[hole] = value;
}

/**
 * The k best ids of scores[from, from+length) (ids are offsets into that row), best first, ties
 * broken by the smaller id; ids in `exclude` (a small list) are never picked, nor are NaN scores.
 * Writes into ids/values (length >= k) and returns how many were written (min(k, eligible ids)).
 */
export function topK(
  scores: Float32Array,
  from: number,
  length: number,
  k: number,
  exclude: ArrayLike<number>,
  ids: Int32Array,
  values: Float32Array,
): number {
  if (!Number.isInteger(from) || !Number.isInteger(length) || from < 0 || length < 0) {
    throw new RangeError(`topK: invalid row [${from}, ${from} + ${length})`);
  }
  if (from + length > scores.length) {
    throw new RangeError(`topK: row [${from}, ${from + length}) exceeds ${scores.length} scores`);
  }
  if (!Number.isInteger(k) || k < 0)
    throw new RangeError(`topK: k must be an integer ≥ 0, got ${k}`);
  if (ids.length < k || values.length < k) {
    throw new RangeError(
      `topK: output arrays hold ${Math.min(ids.length, values.length)} < k = ${k}`,
    );
  }
  // Fill the heap with the first k eligible entries, then scan the rest against its root, kept
  // in a local: almost every entry is rejected by that one comparison.
  let size = 0;
  let id = 0;
  for (; id < length && size < k; id++) {
    const value = scores[from + id] as number;
    if (value !== value || excluded(id, exclude)) continue; // NaN ranks nowhere
    ids[size] = id;
    values[size] = value;
    siftUp(ids, values, size++);
  }
  let root = size > 0 ? (values[0] as number) : Number.POSITIVE_INFINITY;
  for (; id < length; id++) {
    const value = scores[from + id] as number;
    // Ids come in increasing order, so a score equal to the root's never outranks it.
    if (!(value > root) || excluded(id, exclude)) continue;
    ids[0] = id;
    values[0] = value;
    siftDown(ids, values, size, 0);
    root = values[0] as number;
  }
  // Heap sort in place: the worst goes to the end of the shrinking heap, leaving best first.
  for (let end = size - 1; end > 0; end--) {
    const id = ids[0] as number;
    const value = values[0] as number;
    ids[0] = ids[end] as number;
    values[0] = values[end] as number;
    ids[end] = id;
    values[end] = value;
    siftDown(ids, values, end, 0);
  }
  return size;
}
