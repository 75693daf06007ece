/**
 * Rows of a matrix summed into groups, differentiable: out[g] = Σ_{i: segments[i] = g} rows[i].
 * tfjs's own `unsortedSegmentSum` gradient guards against negative segment ids with a broadcast
 * boolean mask over the whole [rows, columns] gradient (`LogicalAnd` + `Select`: 26 ms a step here
 * for a few thousand feature rows); the segments here are host data known to be valid, so the
 * gradient is a plain row gather of dy.
 */
import * as tf from "@tensorflow/tfjs";

export function sumRows(rows: tf.Tensor2D, segments: Int32Array, count: number): tf.Tensor2D {
  if (segments.length !== rows.shape[0]) {
    throw new RangeError(`sumRows: ${segments.length} segment ids for ${rows.shape[0]} rows`);
  }
  const op = tf.customGrad((...args) => {
    const [x] = args as [tf.Tensor2D];
    const ids = tf.tensor1d(segments, "int32");
    return {
      value: tf.unsortedSegmentSum(x, ids, count),
      gradFunc: (dy: tf.Tensor) => tf.gather(dy, tf.tensor1d(segments, "int32")),
    };
  });
  return op(rows) as tf.Tensor2D;
}
