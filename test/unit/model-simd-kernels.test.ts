import { describe, expect, it } from "vitest";
import { PipelineError } from "../../pipeline/errors.ts";
import { seededFloats } from "../../pipeline/prng.ts";
import { BLOCK, BLOCKS, KernelLayout } from "../../pipeline/model/simd-kernels.ts";
import { I32, op, sleb, uleb, wasmModule } from "../../pipeline/model/wasm-binary.ts";

describe("LEB128", () => {
  it("encodes the spec's examples and the edges of each byte", () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624_485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(uleb(0xffff_ffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(sleb(0)).toEqual([0]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(-64)).toEqual([0x40]);
    expect(sleb(-65)).toEqual([0xbf, 0x7f]);
    expect(sleb(-123_456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(() => uleb(-1)).toThrow(/not a u32/);
    expect(() => sleb(2 ** 31)).toThrow(/not an i32/);
  });
});

describe("wasmModule", () => {
  it("writes a module the engine compiles and runs", () => {
    // store(a, b): memory[a] = splat(memory[b]) + memory[a] (f32x4), enough to exercise the
    // sections, locals, memarg offsets and SIMD prefixes.
    const bytes = wasmModule([
      {
        name: "addSplat",
        params: [I32, I32],
        locals: [0x7b],
        body: [
          [...op.localGet(1), ...op.v128Load32Splat(4), ...op.localSet(2)],
          [...op.localGet(0), ...op.localGet(2), ...op.localGet(0), ...op.v128Load(16)],
          [...op.f32x4Add, ...op.v128Store(16)],
        ],
      },
    ]);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const { addSplat } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory },
    }).exports as { addSplat: (a: number, b: number) => void };
    const view = new Float32Array(memory.buffer);
    view.set([1, 2, 3, 4], 4); // bytes 16..31
    view[33] = 10; // byte 132 = 128 + 4
    addSplat(0, 128);
    expect([...view.subarray(4, 8)]).toEqual([11, 12, 13, 14]);
  });
});

/** init + x · M[:, 0..width) in float32, one product and one sum at a time (the kernels' order). */
function reference(
  x: ArrayLike<number>,
  rows: number,
  m: Float32Array,
  stride: number,
  width: number,
  init: Float32Array,
): Float32Array {
  const out = new Float32Array(width);
  for (let j = 0; j < width; j++) {
    let acc = init[j] as number;
    for (let k = 0; k < rows; k++) {
      acc = Math.fround(acc + Math.fround((x[k] as number) * (m[k * stride + j] as number)));
    }
    out[j] = acc;
  }
  return out;
}

/** A memory holding a random matrix, BLOCK random vectors (k-major), start values and room. */
function randomMemory(rows: number, stride: number, seed: number) {
  const layout = new KernelLayout();
  const at = {
    m: layout.reserve(rows * stride),
    x: layout.reserve(rows * BLOCK),
    vector: layout.reserve(rows),
    init: layout.reserve(stride),
    out: layout.reserve(BLOCK * stride),
  };
  const memory = layout.create("a test matrix");
  const next = seededFloats(seed);
  for (const [region, size] of [
    [at.m, rows * stride],
    [at.x, rows * BLOCK],
    [at.init, stride],
  ] as const) {
    const view = memory.view(region, size);
    for (let i = 0; i < size; i++) view[i] = next() * 2 - 1;
  }
  const vector = (s: number) =>
    Array.from({ length: rows }, (_, k) => memory.f32[at.x + k * BLOCK + s] as number);
  return { memory, at, vector };
}

describe("KernelMemory", () => {
  // Widths around the 8- and 4-column chunks and the scalar tail; matrices wider than the product.
  it.each([
    [1, 1, 1],
    [3, 13, 13],
    [7, 9, 8],
    [5, 20, 11],
    [64, 192, 128],
    [33, 1003, 1003],
  ])(
    "matVecAdd over %i rows of a %i-wide matrix, %i columns: float32 in order",
    (rows, stride, width) => {
      const { memory, at, vector } = randomMemory(rows, stride, rows * 1000 + stride);
      const m = memory.view(at.m, rows * stride);
      const init = memory.view(at.init, stride).slice();
      // One vector, contiguous: the first of the block's.
      const x = vector(0);
      memory.f32.set(x, at.vector);
      memory.matVecAdd(at.vector, rows, at.m, stride, width, at.init, at.out);
      expect(memory.view(at.out, width)).toEqual(reference(x, rows, m, stride, width, init));
      // Accumulating in place gives the same as writing elsewhere.
      memory.matVecAdd(at.vector, rows, at.m, stride, width, at.init, at.init);
      expect(memory.view(at.init, width)).toEqual(memory.view(at.out, width));
    },
  );

  it.each(BLOCKS.flatMap((block) => [500, 504].map((width) => [block, width] as const)))(
    "gives each vector of a block of %i exactly what it gets alone (%i columns)",
    (block, width) => {
      const rows = 20;
      const { memory, at } = randomMemory(rows, width, 7);
      const m = memory.view(at.m, rows * width);
      const init = memory.view(at.init, width).slice();
      memory.matVecAddBlock(block, at.x, rows, at.m, width, width, at.init, at.out, width);
      for (let s = 0; s < block; s++) {
        // The block reads its vectors k-major: vector s's k-th value at x + k·block + s.
        const vector = Array.from(
          { length: rows },
          (_, k) => memory.f32[at.x + k * block + s] as number,
        );
        expect(memory.view(at.out + s * width, width)).toEqual(
          reference(vector, rows, m, width, width, init),
        );
      }
      expect(() =>
        memory.matVecAddBlock(block, at.x, rows, at.m, width, 6, at.init, at.out, width),
      ).toThrow(/width 6 is not a multiple of 4/);
    },
  );

  it("expAdd: out += w · exp(x − shift) within an ulp of exp's value at the float32 difference", () => {
    const n = 4000;
    const layout = new KernelLayout();
    const at = { x: layout.reserve(n), out: layout.reserve(n) };
    const memory = layout.create("exp");
    const x = memory.view(at.x, n);
    const out = memory.view(at.out, n);
    for (let i = 0; i < n; i++) x[i] = -95 + (i / n) * 100; // from below the floor to above 0
    x[0] = Number.NEGATIVE_INFINITY;
    memory.expAdd(at.x, n, 2, 1, at.out);
    let worstUlp = 0;
    for (let i = 1; i < n; i++) {
      const d = Math.fround((x[i] as number) - 2);
      const exact = Math.exp(d);
      if (d < -87.33654) {
        expect(out[i]).toBe(0); // under float32's normals: counts as 0
      } else {
        const ulp = 2 ** (Math.floor(Math.log2(exact)) - 23);
        worstUlp = Math.max(worstUlp, Math.abs((out[i] as number) - exact) / ulp);
      }
    }
    expect(out[0]).toBe(0); // −∞ adds 0
    expect(worstUlp).toBeLessThan(1.5);
    // It adds to what is there, after the weight's product, rounding once more.
    const before = Float32Array.from(out);
    memory.expAdd(at.x, n, 2, 0.5, at.out);
    for (const i of [0, 1, 1000, 2500, n - 1]) {
      expect(out[i]).toBe(
        Math.fround((before[i] as number) + Math.fround(0.5 * (before[i] as number))),
      );
    }
    expect(() => memory.expAdd(at.x, 6, 0, 1, at.out)).toThrow(/count 6 is not a multiple of 4/);
  });

  it("refuses a layout over wasm32's 4 GiB, naming what it was for", () => {
    const layout = new KernelLayout();
    layout.reserve(2 ** 30);
    layout.reserve(2 ** 30);
    const tooLarge = () => layout.create("the gru net (vocabSize 2000000)");
    expect(tooLarge).toThrow(PipelineError);
    expect(tooLarge).toThrow(/the gru net \(vocabSize 2000000\) needs 8\.0 GiB/);
  });

  it("aligns every region to 16 bytes", () => {
    const layout = new KernelLayout();
    expect([layout.reserve(3), layout.reserve(1), layout.reserve(8), layout.reserve(0)]).toEqual([
      0, 4, 8, 16,
    ]);
  });
});
