/**
 * The inference runtime's arithmetic as WebAssembly SIMD kernels: a vector (or a block of
 * vectors) times a row-major matrix, added to a start value, which is all of a prediction's
 * multiply-adds (the output layer, hidden × vocabSize per prefix, and the recurrence, hidden ×
 * gates × hidden per step); and w · exp(x − shift) over the vocabulary, the blend's neural values.
 * V8 compiles JavaScript to scalar code; f32x4 does four columns an instruction (measured: the
 * output layer ~5× faster than the best JavaScript loop at 64 × 10,000, the exponentials ~5×
 * faster than Math.exp).
 *
 * Every matrix kernel computes each output column the same way: acc = init[j]; then for k in
 * order, acc = acc + x[k] · M[k][j], in float32 (rounded after every product and every sum). SIMD
 * lanes, the blocked variants and the scalar tail differ only in how many columns and vectors they
 * do at once, so a result never depends on the batch a vector came in or on where a column falls.
 *
 * Everything the kernels read and write lives in one linear memory (`KernelMemory`), laid out once
 * (`KernelLayout`) and never grown, so the Float32Array views of it stay valid.
 */
import { PipelineError } from "../errors.ts";
import {
  F32,
  I32,
  V128,
  op,
  wasmModule,
  type ValueType,
  type WasmFunction,
} from "./wasm-binary.ts";

/**
 * Vectors per call of the blocked kernels, largest first: each weight read serves that many
 * prefixes, which matters most once the matrix outgrows the caches (measured at 64 × 50,000:
 * 0.54 ms a vector alone, 0.26 in twos or fours, 0.22 in eights).
 */
export const BLOCKS = [8, 4, 2] as const;
export type BlockSize = (typeof BLOCKS)[number];
/** The largest block. */
export const BLOCK = BLOCKS[0];

const PAGE_BYTES = 65_536;
/** wasm32 addresses 4 GiB: 65,536 pages. */
const MAX_PAGES = 65_536;

// The parameters: byte addresses, except the counts.
const X = 0; // the vectors, k-major: vector s's k-th value at X + (k·states + s)·4
const ROWS = 1;
const M = 2;
const STRIDE = 3; // floats per row of M
const WIDTH = 4; // columns
const INIT = 5; // start values, [WIDTH] (the same for every vector)
const OUT = 6; // results, vector s's at OUT + s·OUT_STRIDE·4 (OUT may equal INIT)
const OUT_STRIDE = 7;
const PARAMS = 8;
// The locals.
const J = 8;
const K = 9;
const P = 10; // address in M of the current row's chunk
const XP = 11; // address of the current row's vector values
const ROW_BYTES = 12;
const O = 13;
const ACC_F32 = 14; // the scalar tail's accumulator
const Y = 15; // v128: the chunk of M's current row
const ACC = 16; // v128 accumulators, [states][vectors], then the splatted vector values

const byteAddress = (base: number, index: number) => [
  ...op.localGet(base),
  ...op.localGet(index),
  ...op.i32Const(2),
  ...op.i32Shl,
  ...op.i32Add,
];

/** while (cond) { body }: `cond` leaves 1 to stop. */
function whileNot(stop: readonly number[], body: (readonly number[])[]): (readonly number[])[] {
  return [op.block, op.loop, [...stop, ...op.brIf(1)], ...body, op.br(0), op.end, op.end];
}

/**
 * The columns [j, …) in chunks of 4·vectors while a whole chunk fits, for `states` vectors.
 * Leaves J at the first column not done.
 */
function chunkLoop(states: number, vectors: number): (readonly number[])[] {
  const acc = (s: number, c: number) => ACC + s * vectors + c;
  const splat = (s: number) => ACC + states * vectors + s;
  const width = 4 * vectors;
  const body: (readonly number[])[] = [[...byteAddress(INIT, J), ...op.localSet(P)]];
  for (let s = 0; s < states; s++) {
    for (let c = 0; c < vectors; c++) {
      body.push([...op.localGet(P), ...op.v128Load(16 * c), ...op.localSet(acc(s, c))]);
    }
  }
  const row: (readonly number[])[] = [];
  for (let s = 0; s < states; s++) {
    row.push([...op.localGet(XP), ...op.v128Load32Splat(4 * s), ...op.localSet(splat(s))]);
  }
  for (let c = 0; c < vectors; c++) {
    row.push([...op.localGet(P), ...op.v128Load(16 * c), ...op.localSet(Y)]);
    for (let s = 0; s < states; s++) {
      row.push([
        ...op.localGet(acc(s, c)),
        ...op.localGet(splat(s)),
        ...op.localGet(Y),
        ...op.f32x4Mul,
        ...op.f32x4Add,
        ...op.localSet(acc(s, c)),
      ]);
    }
  }
  row.push(
    [...op.localGet(P), ...op.localGet(ROW_BYTES), ...op.i32Add, ...op.localSet(P)],
    [...op.localGet(XP), ...op.i32Const(4 * states), ...op.i32Add, ...op.localSet(XP)],
    [...op.localGet(K), ...op.i32Const(1), ...op.i32Add, ...op.localSet(K)],
  );
  body.push(
    [...byteAddress(M, J), ...op.localSet(P)],
    [...op.localGet(X), ...op.localSet(XP)],
    [...op.i32Const(0), ...op.localSet(K)],
    ...whileNot([...op.localGet(K), ...op.localGet(ROWS), ...op.i32GeU], row),
  );
  for (let s = 0; s < states; s++) {
    // o = out + (s·outStride + j)·4
    body.push([
      ...op.localGet(OUT),
      ...op.localGet(OUT_STRIDE),
      ...op.i32Const(4 * s),
      ...op.i32Mul,
      ...op.i32Add,
      ...op.localGet(J),
      ...op.i32Const(2),
      ...op.i32Shl,
      ...op.i32Add,
      ...op.localSet(O),
    ]);
    for (let c = 0; c < vectors; c++) {
      body.push([...op.localGet(O), ...op.localGet(acc(s, c)), ...op.v128Store(16 * c)]);
    }
  }
  body.push([...op.localGet(J), ...op.i32Const(width), ...op.i32Add, ...op.localSet(J)]);
  return whileNot(
    [...op.localGet(J), ...op.i32Const(width), ...op.i32Add, ...op.localGet(WIDTH), ...op.i32GtU],
    body,
  );
}

/** The columns [j, width) one at a time, for one vector. */
function scalarLoop(): (readonly number[])[] {
  const row: (readonly number[])[] = [
    [...op.localGet(ACC_F32), ...op.localGet(XP), ...op.f32Load(0)],
    [...op.localGet(P), ...op.f32Load(0), ...op.f32Mul, ...op.f32Add, ...op.localSet(ACC_F32)],
    [...op.localGet(P), ...op.localGet(ROW_BYTES), ...op.i32Add, ...op.localSet(P)],
    [...op.localGet(XP), ...op.i32Const(4), ...op.i32Add, ...op.localSet(XP)],
    [...op.localGet(K), ...op.i32Const(1), ...op.i32Add, ...op.localSet(K)],
  ];
  return whileNot(
    [...op.localGet(J), ...op.localGet(WIDTH), ...op.i32GeU],
    [
      [...byteAddress(INIT, J), ...op.f32Load(0), ...op.localSet(ACC_F32)],
      [...byteAddress(M, J), ...op.localSet(P)],
      [...op.localGet(X), ...op.localSet(XP)],
      [...op.i32Const(0), ...op.localSet(K)],
      ...whileNot([...op.localGet(K), ...op.localGet(ROWS), ...op.i32GeU], row),
      [...byteAddress(OUT, J), ...op.localGet(ACC_F32), ...op.f32Store(0)],
      [...op.localGet(J), ...op.i32Const(1), ...op.i32Add, ...op.localSet(J)],
    ],
  );
}

function kernel(
  name: string,
  states: number,
  body: (readonly number[])[],
  vectors: number,
): WasmFunction {
  return {
    name,
    params: Array<ValueType>(PARAMS).fill(I32),
    // j, k, p, xp, rowBytes, o; the scalar accumulator; y; the accumulators; the splats
    locals: [
      ...Array<ValueType>(6).fill(I32),
      F32,
      ...Array<ValueType>(1 + states * vectors + states).fill(V128),
    ],
    body: [
      [...op.localGet(STRIDE), ...op.i32Const(2), ...op.i32Shl, ...op.localSet(ROW_BYTES)],
      [...op.i32Const(0), ...op.localSet(J)],
      ...body,
    ],
  };
}

// expAdd's parameters and locals.
const E_VALUES = 0;
const E_COUNT = 1;
const E_SHIFT = 2; // f32
const E_WEIGHT = 3; // f32
const E_OUT = 4;
const E_I = 5;
const E_X = 6; // v128 from here
const E_N = 7;
const E_R = 8;
const E_P = 9;
const E_MASK = 10;
const E_SHIFTS = 11;
const E_WEIGHTS = 12;

/** log(2^−126): below it exp(x) is under float32's smallest normal and counts as 0 (as −∞ does). */
const EXP_FLOOR = -87.33654;

/**
 * out[i] += w · exp(values[i] − shift) for i < count (a multiple of 4), in float32, after
 * Cephes' expf (Moshier): x = n·ln 2 + r with the reduction in two parts (Cody and Waite), e^r
 * by a degree-7 polynomial on |r| ≤ ln 2 / 2, and 2^n built in the exponent bits; within a few
 * ulp of the exact value (a test measures it). Values more than 87.3 below `shift`, −∞ included,
 * add 0.
 */
function expAddFunction(): WasmFunction {
  const get = op.localGet;
  const set = op.localSet;
  // Cephes' expf: e^r ≈ 1 + r + r²·P(r), P by Horner from its highest coefficient.
  const coefficients = [
    1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
    5.0000001201e-1,
  ];
  const polynomial: (readonly number[])[] = [
    [...op.f32x4Const(coefficients[0] as number), ...set(E_P)],
  ];
  for (const c of coefficients.slice(1)) {
    polynomial.push([
      ...get(E_P),
      ...get(E_R),
      ...op.f32x4Mul,
      ...op.f32x4Const(c),
      ...op.f32x4Add,
      ...set(E_P),
    ]);
  }
  const address = (base: number) => [
    ...get(base),
    ...get(E_I),
    ...op.i32Const(2),
    ...op.i32Shl,
    ...op.i32Add,
  ];
  return {
    name: "expAdd",
    params: [I32, I32, F32, F32, I32],
    locals: [I32, ...Array<ValueType>(7).fill(V128)],
    body: [
      [...get(E_SHIFT), ...op.f32x4Splat, ...set(E_SHIFTS)],
      [...get(E_WEIGHT), ...op.f32x4Splat, ...set(E_WEIGHTS)],
      [...op.i32Const(0), ...set(E_I)],
      ...whileNot(
        [...get(E_I), ...get(E_COUNT), ...op.i32GeU],
        [
          [...address(E_VALUES), ...op.v128Load(0), ...get(E_SHIFTS), ...op.f32x4Sub, ...set(E_X)],
          [...get(E_X), ...op.f32x4Const(EXP_FLOOR), ...op.f32x4Ge, ...set(E_MASK)],
          [...get(E_X), ...op.f32x4Const(EXP_FLOOR), ...op.f32x4Max, ...set(E_X)],
          // n = round(x / ln 2); r = x − n·C1 − n·C2, where C1 + C2 = ln 2 and n·C1 is exact
          [...get(E_X), ...op.f32x4Const(Math.LOG2E), ...op.f32x4Mul, ...op.f32x4Nearest],
          set(E_N),
          [...get(E_X), ...get(E_N), ...op.f32x4Const(0.693359375), ...op.f32x4Mul, ...op.f32x4Sub],
          [
            ...get(E_N),
            ...op.f32x4Const(-2.1219444e-4),
            ...op.f32x4Mul,
            ...op.f32x4Sub,
            ...set(E_R),
          ],
          ...polynomial,
          // e^r = P·r² + r + 1
          [...get(E_P), ...get(E_R), ...get(E_R), ...op.f32x4Mul, ...op.f32x4Mul],
          [...get(E_R), ...op.f32x4Add, ...op.f32x4Const(1), ...op.f32x4Add, ...set(E_P)],
          // times 2^n, whose float32 bits are (n + 127) << 23; 0 below the floor
          [...get(E_P), ...get(E_N), ...op.i32x4TruncSatF32x4S, ...op.i32x4Const(127)],
          [...op.i32x4Add, ...op.i32Const(23), ...op.i32x4Shl, ...op.f32x4Mul],
          [...get(E_MASK), ...op.v128And, ...set(E_P)],
          [...address(E_OUT), ...address(E_OUT), ...op.v128Load(0)],
          [...get(E_WEIGHTS), ...get(E_P), ...op.f32x4Mul, ...op.f32x4Add, ...op.v128Store(0)],
          [...get(E_I), ...op.i32Const(4), ...op.i32Add, ...set(E_I)],
        ],
      ),
    ],
  };
}

let compiled: WebAssembly.Module | undefined;

/** The kernels' module, compiled once per process (about a kilobyte). */
function kernelModule(): WebAssembly.Module {
  compiled ??= new WebAssembly.Module(
    wasmModule([
      // One vector, any width: eight columns at a time, then four, then one.
      kernel("matVecAdd", 1, [...chunkLoop(1, 2), ...chunkLoop(1, 1), ...scalarLoop()], 2),
      // Blocks of vectors, a width that is a multiple of 4.
      kernel("matVecAdd8", 8, chunkLoop(8, 1), 1),
      kernel("matVecAdd4", 4, chunkLoop(4, 1), 1),
      kernel("matVecAdd2", 2, [...chunkLoop(2, 2), ...chunkLoop(2, 1)], 2),
      expAddFunction(),
    ]),
  );
  return compiled;
}

type Kernel = (...args: number[]) => void;

/** Reserves the regions of a kernel memory before it exists (its size is fixed at creation). */
export class KernelLayout {
  private floats = 0;

  /** A region of `floats` values, 16-byte aligned; returns its offset in floats. */
  reserve(floats: number): number {
    const at = this.floats;
    this.floats += Math.ceil(floats / 4) * 4;
    return at;
  }

  /** The memory for every region reserved so far. `what` names the model in the error. */
  create(what: string): KernelMemory {
    const bytes = this.floats * 4;
    const pages = Math.max(1, Math.ceil(bytes / PAGE_BYTES));
    if (pages > MAX_PAGES) {
      throw new PipelineError(
        `${what} needs ${(bytes / 2 ** 30).toFixed(1)} GiB of weights and scratch, over the 4 GiB a wasm32 kernel addresses`,
        1,
        "train with fewer items (a higher train.minCount) or fewer hidden units",
      );
    }
    return new KernelMemory(pages);
  }
}

/**
 * One linear memory and the kernels over it. Offsets and counts are in floats; a region is a
 * `view` (a Float32Array over the memory) for everything that is not a matrix product.
 */
export class KernelMemory {
  /** The whole memory as floats. */
  readonly f32: Float32Array;
  private readonly matVec: Kernel;
  private readonly matVecBlocks: Record<BlockSize, Kernel>;
  private readonly exp: Kernel;

  constructor(pages: number) {
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const exports = new WebAssembly.Instance(kernelModule(), { env: { memory } }).exports;
    this.matVec = exports.matVecAdd as Kernel;
    this.matVecBlocks = {
      8: exports.matVecAdd8 as Kernel,
      4: exports.matVecAdd4 as Kernel,
      2: exports.matVecAdd2 as Kernel,
    };
    this.exp = exports.expAdd as Kernel;
    this.f32 = new Float32Array(memory.buffer);
  }

  view(at: number, floats: number): Float32Array {
    return this.f32.subarray(at, at + floats);
  }

  /**
   * out[j] = init[j] + Σ_k x[k] · m[k·stride + j] for j < width, k < rows. `out` may be `init`
   * (an accumulation).
   */
  matVecAdd(
    x: number,
    rows: number,
    m: number,
    stride: number,
    width: number,
    init: number,
    out: number,
  ): void {
    this.matVec(x * 4, rows, m * 4, stride, width, init * 4, out * 4, 0);
  }

  /**
   * matVecAdd for `states` vectors at once: vector s's k-th value at x + k·states + s, its
   * result at out + s·outStride; `width` a multiple of 4.
   */
  matVecAddBlock(
    states: BlockSize,
    x: number,
    rows: number,
    m: number,
    stride: number,
    width: number,
    init: number,
    out: number,
    outStride: number,
  ): void {
    if (width % 4 !== 0) {
      throw new RangeError(`matVecAddBlock: width ${width} is not a multiple of 4`);
    }
    this.matVecBlocks[states](x * 4, rows, m * 4, stride, width, init * 4, out * 4, outStride);
  }

  /**
   * out[i] += w · exp(values[i] − shift) for i < count (a multiple of 4), float32; values more
   * than 87.3 below `shift` (−∞ included) add 0.
   */
  expAdd(values: number, count: number, shift: number, w: number, out: number): void {
    if (count % 4 !== 0) throw new RangeError(`expAdd: count ${count} is not a multiple of 4`);
    this.exp(values * 4, count, shift, w, out * 4);
  }
}
