/**
 * `GatherV2` along axis 0 on the wasm backend as row copies.
 *
 * The stock wasm kernel computes every element's source offset from strides, one element at a
 * time: gathering 2,000 rows of a [8,736, 64] embedding took 4 ms here, as long as the matrix
 * product that follows it. Gathering whole rows is a `copyWithin` per row on the heap. The
 * common case of training — rows of an embedding or an output matrix, and single elements of a
 * flat vector — is axis 0 with no batch dimensions; any other gather goes to the stock kernel.
 */
import {
  GatherV2,
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type GatherV2Attrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs";

/** The parts of the wasm backend used here (see segment-sum.ts). */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32" | "int32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array;
}

let registered: KernelConfig | undefined;

function wrap(stock: KernelConfig): KernelConfig {
  const kernelFunc = (args: Parameters<KernelFunc>[0]) => {
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as GatherV2Attrs;
    const rowAxis = util.parseAxisParam(axis, x.shape)[0];
    if (rowAxis !== 0 || (batchDims ?? 0) !== 0 || (x.dtype !== "float32" && x.dtype !== "int32")) {
      return stock.kernelFunc(args);
    }
    const backend = args.backend as unknown as WasmHeapBackend; // see WasmHeapBackend
    const rows = x.shape[0] as number;
    const width = util.sizeFromShape(x.shape.slice(1));
    // Allocate first: makeOutput may grow the wasm memory, which detaches earlier views.
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    const ids = backend.typedArrayFromHeap(indices);
    const source = backend.typedArrayFromHeap(x);
    const target = backend.typedArrayFromHeap(out);
    for (let i = 0; i < ids.length; i++) {
      const row = ids[i] as number;
      if (!(row >= 0 && row < rows)) {
        throw new Error(`GatherV2: the index value ${row} is not in [0, ${rows - 1}]`);
      }
      if (width === 1) target[i] = source[row] as number;
      else target.set(source.subarray(row * width, row * width + width), i * width);
    }
    return out;
  };
  return { ...stock, kernelFunc: kernelFunc as KernelFunc };
}

/** Makes the row-copy kernel the wasm backend's `GatherV2` for axis 0; idempotent. */
export function registerGatherRows(): void {
  const current = getKernel(GatherV2, "wasm");
  if (!current || current === registered) return;
  registered = wrap(current);
  unregisterKernel(GatherV2, "wasm");
  registerKernel(registered);
}
