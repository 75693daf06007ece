/**
 * The network of ./net.ts in plain TypeScript: what serving and evaluation run, so neither loads
 * tfjs (its startup, its tensors' bookkeeping and a per-call dispatch cost that exceeds the
 * arithmetic of one session) on the request path.
 *
 * The arithmetic is float32 storage with JavaScript's double-precision math in between, and is
 * arranged for what V8 compiles well (no SIMD, so the wins are memory order and instruction-level
 * parallelism):
 * - The first layer's input projection x·W₀ + b₀ depends only on the item id, so it is a table
 *   [vocabSize, gates × hidden] computed once (when it fits in INPUT_TABLE_MAX_FLOATS); a step
 *   then costs one row copy plus h·U. The table holds exactly what the per-step path computes
 *   (same operations, same order), so the two give identical scores.
 * - Matrix-vector products run over contiguous rows of a row-major matrix, several rows of the
 *   matrix per pass (`matVecAdd`): each output element is then read and written once per
 *   MATVEC_UNROLL products instead of once per product, and the products are independent.
 * - Scores, which dominate (hidden × vocabSize per prefix against hidden × gates × hidden per
 *   step), use the output matrix as [hidden, vocabSize] and score SCORE_BLOCK prefixes per pass
 *   over it (`scoreBlock`), so each weight read from memory serves four prefixes. The prefixes
 *   left over are scored one by one (`scoreRow`) with the same rounding, so a prefix's scores do
 *   not depend on the batch it came in.
 * - The state and the gate pre-activations live in scratch buffers of the instance: a call
 *   allocates nothing but its output (and that only when none is given).
 */
import { PipelineError } from "../errors.ts";
import { GATES, netWeightSpecs, validateNetConfig, type NetConfig } from "./net.ts";

/** Largest first-layer input table, in floats (64 MiB); beyond it x·W₀ is computed per step. */
export const INPUT_TABLE_MAX_FLOATS = 16 * 1024 * 1024;

export interface NetRuntimeOptions {
  /** Largest first-layer input table, in floats (default INPUT_TABLE_MAX_FLOATS; 0: none). */
  inputTableMaxFloats?: number;
}

/** Prefixes scored per pass over the output matrix. */
const SCORE_BLOCK = 4;

/** Matrix rows folded into one pass of `matVecAdd`. */
const MATVEC_UNROLL = 8;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * out[outAt + j] += Σ_k x[xAt + k] · m[mAt + k·stride + j] for k < rows, j < width: a vector
 * times a block of a row-major matrix (stride = the matrix's row length), added into `out`.
 */
function matVecAdd(
  x: Float32Array,
  xAt: number,
  rows: number,
  m: Float32Array,
  mAt: number,
  stride: number,
  width: number,
  out: Float32Array,
  outAt: number,
): void {
  let k = 0;
  for (; k + MATVEC_UNROLL <= rows; k += MATVEC_UNROLL) {
    const x0 = x[xAt + k] as number;
    const x1 = x[xAt + k + 1] as number;
    const x2 = x[xAt + k + 2] as number;
    const x3 = x[xAt + k + 3] as number;
    const x4 = x[xAt + k + 4] as number;
    const x5 = x[xAt + k + 5] as number;
    const x6 = x[xAt + k + 6] as number;
    const x7 = x[xAt + k + 7] as number;
    const r0 = mAt + k * stride;
    const r1 = r0 + stride;
    const r2 = r1 + stride;
    const r3 = r2 + stride;
    const r4 = r3 + stride;
    const r5 = r4 + stride;
    const r6 = r5 + stride;
    const r7 = r6 + stride;
    for (let j = 0; j < width; j++) {
      out[outAt + j] =
        (out[outAt + j] as number) +
        (x0 * (m[r0 + j] as number) +
          x1 * (m[r1 + j] as number) +
          (x2 * (m[r2 + j] as number) + x3 * (m[r3 + j] as number))) +
        (x4 * (m[r4 + j] as number) +
          x5 * (m[r5 + j] as number) +
          (x6 * (m[r6 + j] as number) + x7 * (m[r7 + j] as number)));
    }
  }
  for (; k < rows; k++) {
    const xk = x[xAt + k] as number;
    const r = mAt + k * stride;
    for (let j = 0; j < width; j++)
      out[outAt + j] = (out[outAt + j] as number) + xk * (m[r + j] as number);
  }
}

/**
 * Scores of SCORE_BLOCK (4) states at once: out rows [outAt + r·width] = bias + s_r · m for the
 * states s_r at s[sAt + r·rows], m row-major [rows, width]. Four matrix rows per pass, so the
 * sixteen coefficients stay in registers and each output element is touched rows / 4 times.
 */
function scoreBlock(
  s: Float32Array,
  sAt: number,
  rows: number,
  m: Float32Array,
  width: number,
  bias: Float32Array,
  out: Float32Array,
  outAt: number,
): void {
  const o0 = outAt;
  const o1 = o0 + width;
  const o2 = o1 + width;
  const o3 = o2 + width;
  const s0 = sAt;
  const s1 = s0 + rows;
  const s2 = s1 + rows;
  const s3 = s2 + rows;
  out.set(bias, o0);
  out.set(bias, o1);
  out.set(bias, o2);
  out.set(bias, o3);
  let k = 0;
  for (; k + 4 <= rows; k += 4) {
    const a0 = s[s0 + k] as number;
    const a1 = s[s0 + k + 1] as number;
    const a2 = s[s0 + k + 2] as number;
    const a3 = s[s0 + k + 3] as number;
    const b0 = s[s1 + k] as number;
    const b1 = s[s1 + k + 1] as number;
    const b2 = s[s1 + k + 2] as number;
    const b3 = s[s1 + k + 3] as number;
    const c0 = s[s2 + k] as number;
    const c1 = s[s2 + k + 1] as number;
    const c2 = s[s2 + k + 2] as number;
    const c3 = s[s2 + k + 3] as number;
    const d0 = s[s3 + k] as number;
    const d1 = s[s3 + k + 1] as number;
    const d2 = s[s3 + k + 2] as number;
    const d3 = s[s3 + k + 3] as number;
    const r0 = k * width;
    const r1 = r0 + width;
    const r2 = r1 + width;
    const r3 = r2 + width;
    for (let j = 0; j < width; j++) {
      const m0 = m[r0 + j] as number;
      const m1 = m[r1 + j] as number;
      const m2 = m[r2 + j] as number;
      const m3 = m[r3 + j] as number;
      out[o0 + j] = (out[o0 + j] as number) + (a0 * m0 + a1 * m1 + (a2 * m2 + a3 * m3));
      out[o1 + j] = (out[o1 + j] as number) + (b0 * m0 + b1 * m1 + (b2 * m2 + b3 * m3));
      out[o2 + j] = (out[o2 + j] as number) + (c0 * m0 + c1 * m1 + (c2 * m2 + c3 * m3));
      out[o3 + j] = (out[o3 + j] as number) + (d0 * m0 + d1 * m1 + (d2 * m2 + d3 * m3));
    }
  }
  for (; k < rows; k++) {
    const a = s[s0 + k] as number;
    const b = s[s1 + k] as number;
    const c = s[s2 + k] as number;
    const d = s[s3 + k] as number;
    const r = k * width;
    for (let j = 0; j < width; j++) {
      const mk = m[r + j] as number;
      out[o0 + j] = (out[o0 + j] as number) + a * mk;
      out[o1 + j] = (out[o1 + j] as number) + b * mk;
      out[o2 + j] = (out[o2 + j] as number) + c * mk;
      out[o3 + j] = (out[o3 + j] as number) + d * mk;
    }
  }
}

/**
 * `scoreBlock` for one state: out[outAt, outAt + width) = bias + s · m, rounded exactly as
 * `scoreBlock` rounds (float32 after each group of four matrix rows), so a prefix's scores do not
 * depend on the batch it came in. Two groups per pass, with the rounding between them explicit.
 */
function scoreRow(
  s: Float32Array,
  sAt: number,
  rows: number,
  m: Float32Array,
  width: number,
  bias: Float32Array,
  out: Float32Array,
  outAt: number,
): void {
  out.set(bias, outAt);
  let k = 0;
  for (; k + 8 <= rows; k += 8) {
    const a0 = s[sAt + k] as number;
    const a1 = s[sAt + k + 1] as number;
    const a2 = s[sAt + k + 2] as number;
    const a3 = s[sAt + k + 3] as number;
    const a4 = s[sAt + k + 4] as number;
    const a5 = s[sAt + k + 5] as number;
    const a6 = s[sAt + k + 6] as number;
    const a7 = s[sAt + k + 7] as number;
    const r0 = k * width;
    const r1 = r0 + width;
    const r2 = r1 + width;
    const r3 = r2 + width;
    const r4 = r3 + width;
    const r5 = r4 + width;
    const r6 = r5 + width;
    const r7 = r6 + width;
    for (let j = 0; j < width; j++) {
      const first =
        a0 * (m[r0 + j] as number) +
        a1 * (m[r1 + j] as number) +
        (a2 * (m[r2 + j] as number) + a3 * (m[r3 + j] as number));
      const second =
        a4 * (m[r4 + j] as number) +
        a5 * (m[r5 + j] as number) +
        (a6 * (m[r6 + j] as number) + a7 * (m[r7 + j] as number));
      out[outAt + j] = Math.fround((out[outAt + j] as number) + first) + second;
    }
  }
  for (; k + 4 <= rows; k += 4) {
    const a0 = s[sAt + k] as number;
    const a1 = s[sAt + k + 1] as number;
    const a2 = s[sAt + k + 2] as number;
    const a3 = s[sAt + k + 3] as number;
    const r0 = k * width;
    const r1 = r0 + width;
    const r2 = r1 + width;
    const r3 = r2 + width;
    for (let j = 0; j < width; j++) {
      out[outAt + j] =
        (out[outAt + j] as number) +
        (a0 * (m[r0 + j] as number) +
          a1 * (m[r1 + j] as number) +
          (a2 * (m[r2 + j] as number) + a3 * (m[r3 + j] as number)));
    }
  }
  for (; k < rows; k++) {
    const a = s[sAt + k] as number;
    const r = k * width;
    for (let j = 0; j < width; j++)
      out[outAt + j] = (out[outAt + j] as number) + a * (m[r + j] as number);
  }
}

/** Reads and checks the weights against the specs: every one present, sized, and no others. */
function checkedWeights(
  config: NetConfig,
  weights: ReadonlyMap<string, Float32Array>,
): Map<string, Float32Array> {
  const specs = netWeightSpecs(config);
  const describe = `${config.cell} net (vocabSize ${config.vocabSize}, embeddingDim ${config.embeddingDim}, hiddenUnits ${config.hiddenUnits}, layers ${config.layers}, tied ${config.tied})`;
  const checked = new Map<string, Float32Array>();
  for (const { name, shape } of specs) {
    const expected = shape.reduce((a, b) => a * b, 1);
    const values = weights.get(name);
    if (values === undefined) {
      throw new PipelineError(
        `weight "${name}" is missing: a ${describe} needs it with shape [${shape.join(", ")}] (${expected} values)`,
      );
    }
    if (!(values instanceof Float32Array) || values.length !== expected) {
      const actual =
        values instanceof Float32Array ? `${values.length} values` : "not a Float32Array";
      throw new PipelineError(
        `weight "${name}" has the wrong size: expected shape [${shape.join(", ")}] (${expected} values), got ${actual}`,
      );
    }
    checked.set(name, values);
  }
  for (const name of weights.keys()) {
    if (!checked.has(name)) {
      throw new PipelineError(
        `unexpected weight "${name}": a ${describe} has only ${specs.map((s) => s.name).join(", ")}`,
      );
    }
  }
  return checked;
}

/** One recurrent layer's weights: W [in, G], U [H, G], b [G], G = gates × hidden. */
interface RecurrentLayer {
  inputSize: number;
  kernel: Float32Array;
  recurrent: Float32Array;
  bias: Float32Array;
}

export class NetRuntime {
  readonly config: NetConfig;
  /** Output size of the last recurrent layer (hiddenUnits). */
  readonly stateSize: number;

  private readonly vocabSize: number;
  private readonly gateWidth: number;
  private readonly embedding: Float32Array;
  private readonly layers: RecurrentLayer[];
  /** [vocabSize, G]: embedding · W₀ + b₀ per id, or null when too large (computed per step). */
  private readonly inputTable: Float32Array | null;
  /** [hidden, vocabSize] row-major: output/kernel, or the transposed embedding when tied. */
  private readonly outputMatrix: Float32Array;
  private readonly outputBias: Float32Array;

  // Scratch, reused by every call (the class is used from one thread).
  /** h of every layer, [layers, hidden]. */
  private readonly hidden: Float32Array;
  /** LSTM cell state of every layer, [layers, hidden]. */
  private readonly cell: Float32Array;
  /** Gate pre-activations of the current layer and step, [G]. */
  private readonly gates: Float32Array;
  /** GRU: r ⊙ h, [hidden]. */
  private readonly resetHidden: Float32Array;
  /** The last layer's part of `hidden` (a view made once: subarray allocates). */
  private readonly topHidden: Float32Array;
  /** Final states of the prefixes being scored, [SCORE_BLOCK, hidden]. */
  private readonly blockStates: Float32Array;

  /**
   * Checks every weight of netWeightSpecs(config) is present with the right length, and no
   * others. The weights are copied (or folded into tables), so later changes to the map's arrays
   * do not reach the runtime.
   */
  constructor(
    config: NetConfig,
    weights: ReadonlyMap<string, Float32Array>,
    options: NetRuntimeOptions = {},
  ) {
    this.config = { ...validateNetConfig(config) };
    const { vocabSize: v, embeddingDim: e, hiddenUnits: h } = this.config;
    const g = GATES[config.cell] * h;
    const w = checkedWeights(config, weights);
    const get = (name: string): Float32Array => (w.get(name) as Float32Array).slice();
    this.vocabSize = v;
    this.stateSize = h;
    this.gateWidth = g;
    this.embedding = get("embedding");
    this.layers = [];
    for (let layer = 0; layer < config.layers; layer++) {
      this.layers.push({
        inputSize: layer === 0 ? e : h,
        kernel: get(`rnn_${layer}/kernel`),
        recurrent: get(`rnn_${layer}/recurrent`),
        bias: get(`rnn_${layer}/bias`),
      });
    }
    this.outputBias = get("output/bias");
    if (config.tied) {
      this.outputMatrix = new Float32Array(h * v);
      for (let id = 0; id < v; id++) {
        for (let k = 0; k < h; k++)
          this.outputMatrix[k * v + id] = this.embedding[id * e + k] as number;
      }
    } else {
      this.outputMatrix = get("output/kernel");
    }
    const tableMax = options.inputTableMaxFloats ?? INPUT_TABLE_MAX_FLOATS;
    this.inputTable = v * g <= tableMax ? this.buildInputTable() : null;

    this.hidden = new Float32Array(config.layers * h);
    this.topHidden = this.hidden.subarray((config.layers - 1) * h);
    this.cell = new Float32Array(config.layers * h);
    this.gates = new Float32Array(g);
    this.resetHidden = new Float32Array(h);
    this.blockStates = new Float32Array(SCORE_BLOCK * h);
  }

  private buildInputTable(): Float32Array {
    const { kernel, bias, inputSize } = this.layers[0] as RecurrentLayer;
    const g = this.gateWidth;
    const table = new Float32Array(this.vocabSize * g);
    for (let id = 0; id < this.vocabSize; id++) {
      table.set(bias, id * g);
      matVecAdd(this.embedding, id * inputSize, inputSize, kernel, 0, g, g, table, id * g);
    }
    return table;
  }

  /**
   * Scores (logits, before any softmax) over all vocabulary ids for each prefix, row-major
   * [prefixes.length, vocabSize] into `out` (allocated when not given). A prefix is item ids
   * (encoded, no padding; the unknown id 1 is read like any other); only its last `maxLen` ids
   * are read. An empty prefix gives the scores of the zero state.
   */
  scores(prefixes: readonly ArrayLike<number>[], out?: Float32Array): Float32Array {
    const v = this.vocabSize;
    const h = this.stateSize;
    const n = prefixes.length;
    const result = this.output(out, n * v, "scores");
    let p = 0;
    for (; p + SCORE_BLOCK <= n; p += SCORE_BLOCK) {
      for (let r = 0; r < SCORE_BLOCK; r++) {
        this.run(prefixes[p + r] as ArrayLike<number>, p + r);
        this.blockStates.set(this.topHidden, r * h);
      }
      scoreBlock(this.blockStates, 0, h, this.outputMatrix, v, this.outputBias, result, p * v);
    }
    for (; p < n; p++) {
      this.run(prefixes[p] as ArrayLike<number>, p);
      const top = this.topHidden;
      scoreRow(top, 0, h, this.outputMatrix, v, this.outputBias, result, p * v);
    }
    return result;
  }

  /** The final hidden state of each prefix, [prefixes.length, stateSize]. */
  states(prefixes: readonly ArrayLike<number>[], out?: Float32Array): Float32Array {
    const h = this.stateSize;
    const result = this.output(out, prefixes.length * h, "states");
    for (let p = 0; p < prefixes.length; p++) {
      this.run(prefixes[p] as ArrayLike<number>, p);
      result.set(this.topHidden, p * h);
    }
    return result;
  }

  private output(out: Float32Array | undefined, size: number, what: string): Float32Array {
    if (out === undefined) return new Float32Array(size);
    if (out.length < size) {
      throw new RangeError(
        `${what}: the output array holds ${out.length} values, ${size} are needed`,
      );
    }
    return out;
  }

  /** Runs one prefix from the zero state; the final states are left in `hidden`. */
  private run(prefix: ArrayLike<number>, index: number): void {
    this.hidden.fill(0);
    this.cell.fill(0);
    const v = this.vocabSize;
    for (let t = Math.max(0, prefix.length - this.config.maxLen); t < prefix.length; t++) {
      const id = prefix[t] as number;
      if (!(id >= 0 && id < v && Number.isInteger(id))) {
        throw new RangeError(
          `prefix ${index} holds id ${id} at position ${t}: ids are integers in [0, ${v})`,
        );
      }
      if (id === 0) continue; // padding leaves the state unchanged (Keras's mask)
      this.step(id);
    }
  }

  /** One time step through every layer. */
  private step(id: number): void {
    const h = this.stateSize;
    const g = this.gateWidth;
    const z = this.gates;
    const lstm = this.config.cell === "lstm";
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l] as RecurrentLayer;
      // z = x·W + b: from the table for layer 0, else from the input (the layer below's new h).
      if (l === 0 && this.inputTable !== null) {
        const table = this.inputTable;
        const at = id * g;
        for (let j = 0; j < g; j++) z[j] = table[at + j] as number;
      } else {
        z.set(layer.bias);
        if (l === 0)
          matVecAdd(
            this.embedding,
            id * layer.inputSize,
            layer.inputSize,
            layer.kernel,
            0,
            g,
            g,
            z,
            0,
          );
        else matVecAdd(this.hidden, (l - 1) * h, h, layer.kernel, 0, g, g, z, 0);
      }
      if (lstm) this.lstmCell(layer.recurrent, l * h);
      else this.gruCell(layer.recurrent, l * h);
    }
  }

  /** z (= x·W + b) += h·U, then the LSTM update of layer state at `at` (gates i, f, c, o). */
  private lstmCell(recurrent: Float32Array, at: number): void {
    const h = this.stateSize;
    const z = this.gates;
    const hidden = this.hidden;
    const cell = this.cell;
    matVecAdd(hidden, at, h, recurrent, 0, 4 * h, 4 * h, z, 0);
    for (let j = 0; j < h; j++) {
      const input = sigmoid(z[j] as number);
      const forget = sigmoid(z[h + j] as number);
      const candidate = Math.tanh(z[2 * h + j] as number);
      const output = sigmoid(z[3 * h + j] as number);
      const c = forget * (cell[at + j] as number) + input * candidate;
      cell[at + j] = c;
      hidden[at + j] = output * Math.tanh(c);
    }
  }

  /**
   * z (= x·W + b) plus the recurrent terms, then the GRU update of the state at `at` (gates
   * z, r, h; the reset gate applies to h before its product with U_h, tfjs-layers' variant).
   */
  private gruCell(recurrent: Float32Array, at: number): void {
    const h = this.stateSize;
    const g = 3 * h;
    const z = this.gates;
    const hidden = this.hidden;
    const reset = this.resetHidden;
    matVecAdd(hidden, at, h, recurrent, 0, g, 2 * h, z, 0);
    for (let j = 0; j < h; j++) {
      z[j] = sigmoid(z[j] as number); // the update gate, kept for the last loop
      reset[j] = sigmoid(z[h + j] as number) * (hidden[at + j] as number);
    }
    matVecAdd(reset, 0, h, recurrent, 2 * h, g, h, z, 2 * h);
    for (let j = 0; j < h; j++) {
      const update = z[j] as number;
      const candidate = Math.tanh(z[2 * h + j] as number);
      hidden[at + j] = update * (hidden[at + j] as number) + (1 - update) * candidate;
    }
  }
}
