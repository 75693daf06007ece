/**
 * The few pieces of the WebAssembly binary format (https://webassembly.github.io/spec/core/binary/)
 * that the inference kernels (./simd-kernels.ts) are written in: a module that imports its memory
 * and exports functions of i32 parameters, and the instructions those functions use.
 *
 * Why write bytes instead of compiling a .wat or AssemblyScript file: the kernels are a few dozen
 * instructions, generated for a block size, and this keeps them in the TypeScript that calls them,
 * with no build step, no compiler dependency and no binary blob to keep in step with its source.
 * The engine validates the module when it is compiled, so an encoding mistake fails at load.
 */

/** Value types. */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValueType = typeof I32 | typeof F32 | typeof V128;

/** Unsigned LEB128. */
export function uleb(value: number): number[] {
  if (!(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff)) {
    throw new RangeError(`uleb: ${value} is not a u32`);
  }
  const bytes: number[] = [];
  let rest = value;
  do {
    const low = rest & 0x7f;
    rest = Math.floor(rest / 128);
    bytes.push(rest === 0 ? low : low | 0x80);
  } while (rest !== 0);
  return bytes;
}

/** Signed LEB128 (i32 constants). */
export function sleb(value: number): number[] {
  if (!(Number.isInteger(value) && value >= -0x8000_0000 && value <= 0x7fff_ffff)) {
    throw new RangeError(`sleb: ${value} is not an i32`);
  }
  const bytes: number[] = [];
  let rest = value;
  for (;;) {
    const low = rest & 0x7f;
    rest >>= 7;
    const done = (rest === 0 && (low & 0x40) === 0) || (rest === -1 && (low & 0x40) !== 0);
    bytes.push(done ? low : low | 0x80);
    if (done) return bytes;
  }
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [...uleb(bytes.length), ...bytes];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

/** A SIMD instruction: the 0xfd prefix, then its number as a u32. */
function simd(opcode: number, ...immediates: number[]): number[] {
  return [0xfd, ...uleb(opcode), ...immediates];
}

/** memarg: log2 of the alignment, then the constant offset added to the address. */
function memarg(alignLog2: number, offset: number): number[] {
  return [...uleb(alignLog2), ...uleb(offset)];
}

/** The instructions the kernels use, each as its bytes. */
export const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  localGet: (index: number) => [0x20, ...uleb(index)],
  localSet: (index: number) => [0x21, ...uleb(index)],
  i32Const: (value: number) => [0x41, ...sleb(value)],
  i32GeU: [0x4f],
  i32GtU: [0x4b],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32Shl: [0x74],
  f32Load: (offset = 0) => [0x2a, ...memarg(2, offset)],
  f32Store: (offset = 0) => [0x38, ...memarg(2, offset)],
  f32Add: [0x92],
  f32Mul: [0x94],
  v128Load: (offset = 0) => simd(0x00, ...memarg(4, offset)),
  v128Load32Splat: (offset = 0) => simd(0x09, ...memarg(2, offset)),
  v128Store: (offset = 0) => simd(0x0b, ...memarg(4, offset)),
  /** Four f32 lanes of the same value. */
  f32x4Const: (value: number) =>
    simd(0x0c, ...new Uint8Array(Float32Array.of(value, value, value, value).buffer)),
  /** Four i32 lanes of the same value. */
  i32x4Const: (value: number) =>
    simd(0x0c, ...new Uint8Array(Int32Array.of(value, value, value, value).buffer)),
  f32x4Splat: simd(0x13),
  v128And: simd(0x4e),
  f32x4Ge: simd(0x46),
  f32x4Nearest: simd(0x6a),
  i32x4Shl: simd(0xab),
  i32x4Add: simd(0xae),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Max: simd(0xe9),
  i32x4TruncSatF32x4S: simd(0xf8),
} as const;

export interface WasmFunction {
  /** The export's name. */
  name: string;
  /** The parameters' types (locals 0 .. params.length − 1); it returns nothing. */
  params: ValueType[];
  /** Further locals, in order after the parameters. */
  locals: ValueType[];
  /** The instructions, without the final `end`. */
  body: (readonly number[])[];
}

/**
 * A module importing its linear memory as `env.memory` and exporting `functions`. Compile it
 * with `new WebAssembly.Module(bytes)`.
 */
export function wasmModule(functions: readonly WasmFunction[]): Uint8Array {
  const signatures = [...new Set(functions.map((f) => f.params.join(",")))];
  const types = section(
    1,
    vector(
      signatures.map((signature) => [
        0x60,
        ...vector(signature.split(",").map((t) => [Number(t)])),
        0,
      ]),
    ),
  );
  const imports = section(2, vector([[...name("env"), ...name("memory"), 0x02, 0x00, 0]]));
  const declarations = section(
    3,
    vector(functions.map((f) => uleb(signatures.indexOf(f.params.join(","))))),
  );
  const exports = section(
    7,
    vector(functions.map((f, index) => [...name(f.name), 0x00, ...uleb(index)])),
  );
  const code = section(
    10,
    vector(
      functions.map((f) => {
        // Locals are declared in runs of one type.
        const runs: number[][] = [];
        for (let i = 0; i < f.locals.length;) {
          let j = i;
          while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
          runs.push([...uleb(j - i), f.locals[i] as number]);
          i = j;
        }
        const body = [...vector(runs), ...f.body.flat(), ...op.end];
        return [...uleb(body.length), ...body];
      }),
    ),
  );
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...types,
    ...imports,
    ...declarations,
    ...exports,
    ...code,
  ]);
}
