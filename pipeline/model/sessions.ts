/**
 * Sessions as vocabulary ids in one flat array, the shape the trainer batches from and the
 * artifact stores for the neighbourhood components: session s is ids[offsets[s] .. offsets[s + 1]).
 * Ids are 4 bytes: a million sessions of five items take 20 MB.
 */
export interface SessionBlock {
  offsets: Int32Array;
  ids: Int32Array;
}

export function sessionBlock(sessions: readonly ArrayLike<number>[]): SessionBlock {
  const offsets = new Int32Array(sessions.length + 1);
  let total = 0;
  sessions.forEach((s, i) => {
    offsets[i] = total;
    total += s.length;
  });
  offsets[sessions.length] = total;
  const ids = new Int32Array(total);
  sessions.forEach((s, i) => ids.set(s, offsets[i] as number));
  return { offsets, ids };
}

/** The sessions of a block, as views into it. */
export function splitSessions(block: SessionBlock): Int32Array[] {
  const out: Int32Array[] = [];
  for (let s = 0; s + 1 < block.offsets.length; s++) {
    out.push(block.ids.subarray(block.offsets[s] as number, block.offsets[s + 1] as number));
  }
  return out;
}
