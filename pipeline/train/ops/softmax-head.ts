/**
 * The output layer and its loss as one differentiable op: logits = hidden · weights + bias,
 * then the mean softmax cross-entropy against integer labels, with the gradient written out:
 * g = (softmax(logits) − onehot(label)) / rows, dHidden = g · weightsᵀ, dWeights = hiddenᵀ · g,
 * dBias = Σ_rows g — with the one-hot never materialised (see gradFunc).
 *
 * Left to autodiff, the same loss cost a full-softmax step three quarters of its time: tfjs's
 * `logSumExp` gradient rebuilds its max-subtraction graph with a broadcast `Equal` over the whole
 * [rows, columns] matrix (about 270 ms of a 710 ms step here), the broadcast bias add reduces its
 * gradient along the rows (a transpose of the logits on wasm), and the weight gradient multiplies
 * by the transposed logits. Here the softmax is computed once forward and reused backward, the
 * bias gradient is a product with a row of ones, and every product's large operand is untransposed.
 *
 * It serves both heads of the trainer: the full softmax (columns = the vocabulary) and the
 * sampled one (columns = the batch's candidates; `shift` carries the logQ correction).
 */
import * as tf from "@tensorflow/tfjs";

/**
 * Mean cross-entropy of softmax(hidden · weights + bias + shift) against `labels`.
 * hidden [rows, units], weights [units, columns], bias [columns]; labels: one column per row;
 * shift: a constant per column added to the logits (no gradient), or none.
 */
export function softmaxHead(
  hidden: tf.Tensor2D,
  weights: tf.Tensor2D,
  bias: tf.Tensor1D,
  labels: Int32Array,
  shift?: Float32Array,
): tf.Scalar {
  const rows = hidden.shape[0];
  const columns = weights.shape[1];
  if (labels.length !== rows) {
    throw new RangeError(`softmaxHead: ${labels.length} labels for ${rows} rows`);
  }
  if (bias.shape[0] !== columns || (shift && shift.length !== columns)) {
    throw new RangeError(`softmaxHead: bias and shift need ${columns} columns`);
  }
  const op = tf.customGrad((...args) => {
    const [h, w, b] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const offset = shift ? tf.add(b, tf.tensor1d(shift, "float32")) : b;
    const logits = tf.add(tf.matMul(h, w), offset);
    const max = tf.max(logits, 1, true);
    const exp = tf.exp(tf.sub(logits, max));
    const sum = tf.sum(exp, 1, true);
    const flat = Int32Array.from(labels, (label, row) => row * columns + label);
    const picked = tf.gather(tf.reshape(logits, [rows * columns]), tf.tensor1d(flat, "int32"));
    // loss_i = log Σ exp(logits_i) − logits_i[label_i], with the max taken out for stability.
    const losses = tf.sub(tf.add(tf.squeeze(tf.log(sum), [1]), tf.squeeze(max, [1])), picked);
    save([h, w, tf.div(exp, sum)]);
    return {
      value: tf.mean(losses),
      gradFunc: (dy: tf.Tensor, [h0, w0, probabilities]: tf.Tensor[]) => {
        // g = (p − onehot) · dy / rows, without building the [rows, columns] one-hot: its terms
        // are a gather (dHidden), a segment sum (dWeights) and label counts (dBias). (A one-hot
        // would also cost a cast on wasm, whose OneHot ignores the dtype asked for and returns
        // int32 bits labelled float32.)
        const p = probabilities as tf.Tensor2D;
        const scale = tf.div(dy, rows);
        const labelIds = tf.tensor1d(labels, "int32");
        const weightsT = tf.transpose(w0 as tf.Tensor2D);
        const counts = new Float32Array(columns);
        for (const label of labels) counts[label] = (counts[label] as number) + 1;
        return [
          tf.mul(tf.sub(tf.matMul(p, weightsT), tf.gather(weightsT, labelIds)), scale),
          tf.mul(
            tf.sub(
              tf.matMul(tf.transpose(h0 as tf.Tensor2D), p),
              tf.transpose(tf.unsortedSegmentSum(h0 as tf.Tensor2D, labelIds, columns)),
            ),
            scale,
          ),
          tf.mul(
            tf.sub(tf.reshape(tf.matMul(tf.ones([1, rows]), p), [columns]), tf.tensor1d(counts)),
            scale,
          ),
        ];
      },
    };
  });
  return op(hidden, weights, bias) as tf.Scalar;
}
