/**
 * The network of ./net.ts in plain TypeScript: what serving and evaluation run, so neither loads
 * tfjs (its startup, its tensors' bookkeeping and a per-call dispatch cost that exceeds the
 * arithmetic of one session) on the request path.
 *
 * - Every matrix product (the recurrence's x·W and h·U, the output layer's h·M) runs in the
 *   WebAssembly SIMD kernels of ./simd-kernels.ts, in float32, over weights copied into the
 *   kernels' memory once; the gates' nonlinearities run in JavaScript over views of that memory.
 * - The first layer's input projection x·W₀ + b₀ depends only on the item id, so it is a table
 *   [vocabSize, gates × hidden] computed once (when it fits in INPUT_TABLE_MAX_FLOATS); a step
 *   then costs one row copy plus h·U. The table is built by the kernel call the per-step path
 *   makes, so the two give identical scores.
 * - Scores, which dominate (hidden × vocabSize per prefix against hidden × gates × hidden per
 *   step), are computed BLOCK prefixes per pass over the output matrix; a prefix's scores do not
 *   depend on the batch it came in (the kernels' guarantee).
 * - The state and the gate pre-activations live in scratch regions of the instance: a call
 *   allocates nothing but its output (and that only when none is given).
 */
import { PipelineError } from "../errors.ts";
import { GATES, netWeightSpecs, validateNetConfig, type NetConfig } from "./net.ts";
import { BLOCK, BLOCKS, KernelLayout, type KernelMemory } from "./simd-kernels.ts";

/** Largest first-layer input table, in floats (64 MiB); beyond it x·W₀ is computed per step. */
export const INPUT_TABLE_MAX_FLOATS = 16 * 1024 * 1024;

export interface NetRuntimeOptions {
  /** Largest first-layer input table, in floats (default INPUT_TABLE_MAX_FLOATS; 0: none). */
  inputTableMaxFloats?: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
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

/** Where one recurrent layer's weights are in kernel memory: W [in, G], U [H, G], b [G]. */
interface RecurrentLayer {
  inputSize: number;
  kernel: number;
  recurrent: number;
  bias: number;
}

export class NetRuntime {
  readonly config: NetConfig;
  /** Output size of the last recurrent layer (hiddenUnits). */
  readonly stateSize: number;

  private readonly vocabSize: number;
  private readonly gateWidth: number;
  /** Weights, tables and scratch; the fields below are offsets in it (floats). */
  private readonly memory: KernelMemory;
  private readonly embedding: number;
  private readonly layers: RecurrentLayer[];
  /** [vocabSize, G]: embedding · W₀ + b₀ per id, or null when too large (computed per step). */
  private readonly inputTable: number | null;
  /** [hidden, outputWidth]: output/kernel, or the transposed embedding when tied. */
  private readonly outputMatrix: number;
  /** vocabSize rounded up to a multiple of 4 (zero columns), as the blocked kernel needs. */
  private readonly outputWidth: number;
  private readonly outputBias: number;

  // Scratch, reused by every call (the class is used from one thread).
  /** h of every layer, [layers, hidden]. */
  private readonly hidden: number;
  /** LSTM cell state of every layer, [layers, hidden]. */
  private readonly cell: number;
  /** Gate pre-activations of the current layer and step, [G]. */
  private readonly gates: number;
  /** GRU: r ⊙ h, [hidden]. */
  private readonly resetHidden: number;
  /** Final states of a block of prefixes, k-major [hidden, block] (the blocked kernels' input). */
  private readonly blockStates: number;
  /** Scores of up to BLOCK prefixes, [BLOCK, outputWidth]. */
  private readonly blockScores: number;
  // Views of the scratch for the element-wise parts (made once: subarray allocates).
  private readonly hiddenView: Float32Array;
  private readonly cellView: Float32Array;
  private readonly gatesView: Float32Array;
  private readonly resetView: Float32Array;

  /**
   * Checks every weight of netWeightSpecs(config) is present with the right length, and no
   * others. The weights are copied into kernel memory (or folded into tables), so later changes
   * to the map's arrays do not reach the runtime.
   */
  constructor(
    config: NetConfig,
    weights: ReadonlyMap<string, Float32Array>,
    options: NetRuntimeOptions = {},
  ) {
    this.config = { ...validateNetConfig(config) };
    const { vocabSize: v, embeddingDim: e, hiddenUnits: h, layers } = this.config;
    const g = GATES[config.cell] * h;
    const w = checkedWeights(config, weights);
    this.vocabSize = v;
    this.stateSize = h;
    this.gateWidth = g;
    this.outputWidth = Math.ceil(v / 4) * 4;
    const tableMax = options.inputTableMaxFloats ?? INPUT_TABLE_MAX_FLOATS;

    const layout = new KernelLayout();
    this.embedding = layout.reserve(v * e);
    this.layers = Array.from({ length: layers }, (_, layer) => {
      const inputSize = layer === 0 ? e : h;
      return {
        inputSize,
        kernel: layout.reserve(inputSize * g),
        recurrent: layout.reserve(h * g),
        bias: layout.reserve(g),
      };
    });
    this.inputTable = v * g <= tableMax ? layout.reserve(v * g) : null;
    this.outputMatrix = layout.reserve(h * this.outputWidth);
    this.outputBias = layout.reserve(this.outputWidth);
    this.hidden = layout.reserve(layers * h);
    this.cell = layout.reserve(layers * h);
    this.gates = layout.reserve(g);
    this.resetHidden = layout.reserve(h);
    this.blockStates = layout.reserve(h * BLOCK);
    this.blockScores = layout.reserve(BLOCK * this.outputWidth);
    this.memory = layout.create(
      `the ${config.cell} net (vocabSize ${v}, hiddenUnits ${h}, layers ${layers})`,
    );

    const f32 = this.memory.f32;
    const weight = (name: string) => w.get(name) as Float32Array;
    f32.set(weight("embedding"), this.embedding);
    this.layers.forEach((layer, l) => {
      f32.set(weight(`rnn_${l}/kernel`), layer.kernel);
      f32.set(weight(`rnn_${l}/recurrent`), layer.recurrent);
      f32.set(weight(`rnn_${l}/bias`), layer.bias);
    });
    const width = this.outputWidth;
    if (config.tied) {
      const embedding = weight("embedding");
      for (let id = 0; id < v; id++) {
        for (let k = 0; k < h; k++) {
          f32[this.outputMatrix + k * width + id] = embedding[id * e + k] as number;
        }
      }
    } else {
      const kernel = weight("output/kernel");
      for (let k = 0; k < h; k++) {
        f32.set(kernel.subarray(k * v, (k + 1) * v), this.outputMatrix + k * width);
      }
    }
    f32.set(weight("output/bias"), this.outputBias);
    if (this.inputTable !== null) this.buildInputTable(this.inputTable);

    this.hiddenView = this.memory.view(this.hidden, layers * h);
    this.cellView = this.memory.view(this.cell, layers * h);
    this.gatesView = this.memory.view(this.gates, g);
    this.resetView = this.memory.view(this.resetHidden, h);
  }

  /** Each id's row x·W₀ + b₀, by the same kernel call the per-step path makes. */
  private buildInputTable(table: number): void {
    const { kernel, bias, inputSize } = this.layers[0] as RecurrentLayer;
    const g = this.gateWidth;
    for (let id = 0; id < this.vocabSize; id++) {
      this.memory.matVecAdd(
        this.embedding + id * inputSize,
        inputSize,
        kernel,
        g,
        g,
        bias,
        table + id * g,
      );
    }
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
    const width = this.outputWidth;
    const n = prefixes.length;
    const result = this.checkedOutput(out, n * v, "scores");
    const f32 = this.memory.f32;
    const top = this.hidden + (this.config.layers - 1) * h;
    for (let p = 0; p < n;) {
      const block = BLOCKS.find((size) => size <= n - p);
      if (block === undefined) {
        this.run(prefixes[p] as ArrayLike<number>, p);
        const scores = this.blockScores;
        this.memory.matVecAdd(top, h, this.outputMatrix, width, v, this.outputBias, scores);
        result.set(f32.subarray(scores, scores + v), p * v);
        p++;
        continue;
      }
      for (let s = 0; s < block; s++) {
        this.run(prefixes[p + s] as ArrayLike<number>, p + s);
        for (let k = 0; k < h; k++) {
          f32[this.blockStates + k * block + s] = f32[top + k] as number;
        }
      }
      this.memory.matVecAddBlock(
        block,
        this.blockStates,
        h,
        this.outputMatrix,
        width,
        width,
        this.outputBias,
        this.blockScores,
        width,
      );
      for (let s = 0; s < block; s++) {
        const row = this.blockScores + s * width;
        result.set(f32.subarray(row, row + v), (p + s) * v);
      }
      p += block;
    }
    return result;
  }

  /** The final hidden state of each prefix, [prefixes.length, stateSize]. */
  states(prefixes: readonly ArrayLike<number>[], out?: Float32Array): Float32Array {
    const h = this.stateSize;
    const result = this.checkedOutput(out, prefixes.length * h, "states");
    const top = this.hiddenView.subarray((this.config.layers - 1) * h);
    for (let p = 0; p < prefixes.length; p++) {
      this.run(prefixes[p] as ArrayLike<number>, p);
      result.set(top, p * h);
    }
    return result;
  }

  private checkedOutput(out: Float32Array | undefined, size: number, what: string): Float32Array {
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
    this.hiddenView.fill(0);
    this.cellView.fill(0);
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
    const memory = this.memory;
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l] as RecurrentLayer;
      // z = x·W + b: from the table for layer 0, else from the input (the layer below's new h).
      if (l === 0 && this.inputTable !== null) {
        const row = this.inputTable + id * g;
        memory.f32.copyWithin(this.gates, row, row + g);
      } else {
        const input = l === 0 ? this.embedding + id * layer.inputSize : this.hidden + (l - 1) * h;
        memory.matVecAdd(input, layer.inputSize, layer.kernel, g, g, layer.bias, this.gates);
      }
      if (this.config.cell === "lstm") this.lstmCell(layer.recurrent, l * h);
      else this.gruCell(layer.recurrent, l * h);
    }
  }

  /** z (= x·W + b) += h·U, then the LSTM update of layer state at `at` (gates i, f, c, o). */
  private lstmCell(recurrent: number, at: number): void {
    const h = this.stateSize;
    const z = this.gatesView;
    const hidden = this.hiddenView;
    const cell = this.cellView;
    this.memory.matVecAdd(this.hidden + at, h, recurrent, 4 * h, 4 * h, this.gates, this.gates);
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
  private gruCell(recurrent: number, at: number): void {
    const h = this.stateSize;
    const g = 3 * h;
    const z = this.gatesView;
    const hidden = this.hiddenView;
    const reset = this.resetView;
    const memory = this.memory;
    memory.matVecAdd(this.hidden + at, h, recurrent, g, 2 * h, this.gates, this.gates);
    for (let j = 0; j < h; j++) {
      z[j] = sigmoid(z[j] as number); // the update gate, kept for the last loop
      reset[j] = sigmoid(z[h + j] as number) * (hidden[at + j] as number);
    }
    const candidates = this.gates + 2 * h;
    memory.matVecAdd(this.resetHidden, h, recurrent + 2 * h, g, h, candidates, candidates);
    for (let j = 0; j < h; j++) {
      const update = z[j] as number;
      const candidate = Math.tanh(z[2 * h + j] as number);
      hidden[at + j] = update * (hidden[at + j] as number) + (1 - update) * candidate;
    }
  }
}
