/**
 * Transposed matrix products on the wasm backend's fast path.
 *
 * tfjs-backend-wasm 4.x sends `BatchMatMul` (and `_FusedMatMul`) to XNNPACK only when neither
 * operand is transposed; with `transposeA` or `transposeB` it runs a naive triple loop, measured
 * here at 2.5 GFLOPS against XNNPACK's 23–33 on the same shapes. Every backward pass of a matrix
 * product asks for a transposed one (dA = dY·Bᵀ, dB = Aᵀ·dY), so training spent most of its
 * time there. This kernel wraps the stock one: it materialises the transposed operand with the
 * backend's own `Transpose` kernel (a copy, O(size)) and calls the stock kernel untransposed.
 *
 * Other backends (tfjs-node's TensorFlow, cpu) have no such slow path: nothing is registered
 * for them.
 */
import {
  BatchMatMul,
  getKernel,
  registerKernel,
  Transpose,
  unregisterKernel,
  _FusedMatMul,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type TensorInfo,
} from "@tensorflow/tfjs";

const KERNELS = [BatchMatMul, _FusedMatMul] as const;

/** The part of the wasm backend used here. */
interface DisposingBackend {
  disposeData(dataId: TensorInfo["dataId"]): boolean;
}

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** Registered wrappers by kernel name: registering twice is a no-op. */
const wrappers = new Map<string, KernelConfig>();

function wrap(stock: KernelConfig): KernelConfig {
  const transpose = getKernel(Transpose, stock.backendName);
  if (!transpose) throw new Error(`no Transpose kernel on ${stock.backendName}`);
  const kernelFunc = (args: Parameters<KernelFunc>[0]) => {
    const attrs = args.attrs as unknown as MatMulAttrs;
    if (!attrs.transposeA && !attrs.transposeB) return stock.kernelFunc(args);
    const inputs = args.inputs as Record<string, TensorInfo>;
    const backend = args.backend as unknown as DisposingBackend; // see DisposingBackend
    const temporary: TensorInfo[] = [];
    const swapped = (x: TensorInfo): TensorInfo => {
      const rank = x.shape.length;
      const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
      const out = transpose.kernelFunc({
        inputs: { x },
        backend: args.backend,
        attrs: { perm } as unknown as NamedAttrMap,
      }) as TensorInfo;
      temporary.push(out);
      return out;
    };
    const a = inputs.a as TensorInfo;
    const b = inputs.b as TensorInfo;
    try {
      return stock.kernelFunc({
        ...args,
        inputs: {
          ...inputs,
          a: attrs.transposeA ? swapped(a) : a,
          b: attrs.transposeB ? swapped(b) : b,
        },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      for (const info of temporary) backend.disposeData(info.dataId);
    }
  };
  // The stock setupFunc binds the wasm function the stock kernel calls: keep it, in case the
  // backend initialises after this registration.
  return { ...stock, kernelFunc: kernelFunc as KernelFunc };
}

/**
 * Makes the wasm backend's matrix products transpose their operands explicitly. Call before
 * or after the backend initialises; idempotent.
 */
export function registerTransposedMatMul(): void {
  for (const name of KERNELS) {
    const current = getKernel(name, "wasm");
    if (!current || wrappers.get(name) === current) continue;
    const wrapper = wrap(current);
    unregisterKernel(name, "wasm");
    registerKernel(wrapper);
    wrappers.set(name, wrapper);
  }
}
