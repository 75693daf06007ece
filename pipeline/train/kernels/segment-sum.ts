/**
 * `UnsortedSegmentSum` kernels: the gradient of `gather`, so of every Embedding layer (and of a
 * sampled softmax's gathered output columns), is an unsorted segment sum over the rows.
 *
 * - wasm: tfjs-backend-wasm 4.x ships no such kernel, so training any embedding model on wasm
 *   fails with "'UnsortedSegmentSum' not yet implemented or not found in the registry".
 * - cpu: tfjs-backend-cpu ships one, but it builds a mask, a product and a sum over the whole
 *   input for every segment: O(numSegments × size) time and as many temporary tensors. For a
 *   10,000-item embedding and a 256 × 20 batch that is ~10,000 passes over 164k values per step
 *   (minutes per step, gigabytes of garbage), which makes the cpu backend useless for training.
 *
 * Both kernels here make one pass over the input, O(size). The wasm one is written in JavaScript
 * over the wasm heap, the way the backend's own JS kernels (Cast, Range, Unique) are: allocate the
 * output with `makeOutput`, then view inputs and output as typed arrays on the heap with
 * `typedArrayFromHeap`. The cpu one reads with `readSync` and writes with `makeTensorInfo`, as
 * tfjs-backend-cpu's kernels do.
 *
 * Semantics are tfjs's: the output has shape [numSegments, ...x.shape.slice(segmentIds.rank)],
 * and rows whose segment id is negative or ≥ numSegments are dropped (TensorFlow does the same
 * for negative ids; tfjs's cpu and webgl kernels also drop too-large ones instead of failing).
 * The output keeps x's dtype (TensorFlow's rule; tfjs's cpu kernel returns float32 for int32 x).
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  UnsortedSegmentSum,
  util,
  type DataId,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
} from "@tensorflow/tfjs";

type Numeric = Float32Array | Int32Array | Uint8Array;

/**
 * The parts of tfjs-backend-wasm's `BackendWasm` and tfjs-backend-cpu's `MathBackendCPU` these
 * kernels use. Kernels receive the backend typed as the generic `KernelBackend`, so each kernel
 * narrows it to the shape it needs.
 */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32" | "int32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Numeric;
}
interface CpuBackend {
  readSync(dataId: DataId): Numeric;
  makeTensorInfo(shape: number[], dtype: "float32" | "int32", values: Numeric): TensorInfo;
}

interface Plan {
  x: TensorInfo;
  segmentIds: TensorInfo;
  numSegments: number;
  dtype: "float32" | "int32";
  outShape: number[];
  /** Values per row of x (the product of the dimensions after segmentIds'). */
  inner: number;
  rows: number;
}

function plan(args: Parameters<KernelFunc>[0], backendName: string): Plan {
  const { x, segmentIds } = args.inputs as { x?: TensorInfo; segmentIds?: TensorInfo };
  const { numSegments } = args.attrs as unknown as UnsortedSegmentSumAttrs;
  if (!x || !segmentIds) throw new Error("UnsortedSegmentSum: expected inputs x and segmentIds");
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(
      `UnsortedSegmentSum on ${backendName}: unsupported dtype ${x.dtype} (float32 or int32)`,
    );
  }
  const idsRank = segmentIds.shape.length;
  if (idsRank > x.shape.length || segmentIds.shape.some((dim, axis) => dim !== x.shape[axis])) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(",")}] must be a prefix of x shape [${x.shape.join(",")}]`,
    );
  }
  const innerShape = x.shape.slice(idsRank);
  return {
    x,
    segmentIds,
    numSegments,
    dtype: x.dtype,
    outShape: [numSegments, ...innerShape],
    inner: util.sizeFromShape(innerShape),
    rows: util.sizeFromShape(segmentIds.shape),
  };
}

/**
 * Writes the sums into `out` (every element: a fresh wasm output holds whatever the heap held).
 * Sums are accumulated in doubles, as the cpu backend's sum does, and rounded once when stored;
 * only the segments that receive rows get a double accumulator, so the cost is one pass over
 * the input plus one fill of the output, whatever the number of segments.
 */
function sumSegments(p: Plan, values: Numeric, ids: Numeric, out: Numeric): void {
  out.fill(0);
  const slotOf = new Int32Array(p.numSegments).fill(-1);
  const segments: number[] = [];
  for (let row = 0; row < p.rows; row++) {
    const segment = ids[row] as number;
    if (segment < 0 || segment >= p.numSegments || slotOf[segment] !== -1) continue;
    slotOf[segment] = segments.length;
    segments.push(segment);
  }
  const sums = new Float64Array(segments.length * p.inner);
  for (let row = 0; row < p.rows; row++) {
    const segment = ids[row] as number;
    if (segment < 0 || segment >= p.numSegments) continue;
    const from = row * p.inner;
    const to = (slotOf[segment] as number) * p.inner;
    for (let i = 0; i < p.inner; i++)
      sums[to + i] = (sums[to + i] as number) + (values[from + i] as number);
  }
  segments.forEach((segment, slot) => {
    out.set(sums.subarray(slot * p.inner, (slot + 1) * p.inner), segment * p.inner);
  });
}

function wasmKernel(args: Parameters<KernelFunc>[0]): TensorInfo {
  const p = plan(args, "wasm");
  const backend = args.backend as unknown as WasmHeapBackend; // see WasmHeapBackend
  // Allocate first: makeOutput may grow the wasm memory, which detaches views made before it.
  const out = backend.makeOutput(p.outShape, p.dtype);
  sumSegments(
    p,
    backend.typedArrayFromHeap(p.x),
    backend.typedArrayFromHeap(p.segmentIds),
    backend.typedArrayFromHeap(out),
  );
  return out;
}

function cpuKernel(args: Parameters<KernelFunc>[0]): TensorInfo {
  const p = plan(args, "cpu");
  const backend = args.backend as unknown as CpuBackend; // see CpuBackend
  const size = p.numSegments * p.inner;
  const values = p.dtype === "float32" ? new Float32Array(size) : new Int32Array(size);
  sumSegments(p, backend.readSync(p.x.dataId), backend.readSync(p.segmentIds.dataId), values);
  return backend.makeTensorInfo(p.outShape, p.dtype, values);
}

export const wasmUnsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "wasm",
  kernelFunc: wasmKernel as KernelFunc,
};

export const cpuUnsortedSegmentSumConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "cpu",
  kernelFunc: cpuKernel as KernelFunc,
};

const CONFIGS = { wasm: wasmUnsortedSegmentSumConfig, cpu: cpuUnsortedSegmentSumConfig };

/**
 * Makes this module's kernel the backend's `UnsortedSegmentSum`: registers it on wasm, replaces
 * the quadratic stock kernel on cpu. Idempotent.
 */
export function registerSegmentSum(backendName: "wasm" | "cpu"): void {
  const config = CONFIGS[backendName];
  const current = getKernel(UnsortedSegmentSum, backendName);
  if (current === config) return;
  // registerKernel refuses to overwrite silently (it warns), so remove the stock one first.
  if (current) unregisterKernel(UnsortedSegmentSum, backendName);
  registerKernel(config);
}
