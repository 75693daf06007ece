/**
 * How sessions become model input. Item ids are dense integers: 0 is padding (masked by the
 * embedding), 1 is "unknown" (an item outside the training vocabulary), real items start at 2.
 * A prefix is left-padded to `maxLen` and, when longer, keeps its most recent `maxLen` items: the
 * last positions are the ones the recurrent cell reads just before it predicts.
 */
export const PAD_ID = 0;
export const UNKNOWN_ID = 1;
/** The first id of a real item. */
export const FIRST_ITEM_ID = 2;

/** One prefix as a row of `maxLen` ids: left-padded with 0, front-truncated. */
export function encodePrefix(ids: ArrayLike<number>, maxLen: number): Int32Array {
  if (!Number.isInteger(maxLen) || maxLen < 1)
    throw new RangeError(`maxLen must be a positive integer, got ${maxLen}`);
  const row = new Int32Array(maxLen);
  const take = Math.min(ids.length, maxLen);
  const skip = ids.length - take;
  for (let i = 0; i < take; i++) {
    const id = ids[skip + i] as number;
    if (!Number.isInteger(id) || id < 0)
      throw new RangeError(`item ids must be non-negative integers, got ${id}`);
    row[maxLen - take + i] = id;
  }
  return row;
}

/** Many prefixes as one row-major [batch, maxLen] block, the layout model input tensors take. */
export function encodeBatch(prefixes: readonly ArrayLike<number>[], maxLen: number): Int32Array {
  const block = new Int32Array(prefixes.length * maxLen);
  prefixes.forEach((prefix, i) => block.set(encodePrefix(prefix, maxLen), i * maxLen));
  return block;
}
