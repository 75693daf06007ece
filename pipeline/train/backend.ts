/**
 * Picks the tfjs backend training runs on, at run time, and says which one ran and why.
 *
 * tfjs-node and tfjs-node-gpu download libtensorflow when they install, which fails where only
 * the npm registry is reachable, so they are not in package.json: they are imported by name here,
 * and a user (or the Batch GPU image) that installs them gets them. The wasm and cpu backends are
 * ordinary dependencies and always load, so `auto` always ends on one of them.
 */
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs";
import { PipelineError } from "../errors.ts";
import { registerGatherRows } from "./kernels/gather-rows.ts";
import { registerTransposedMatMul } from "./kernels/matmul-transpose.ts";
import { registerSegmentSum } from "./kernels/segment-sum.ts";

export type BackendName = "node-gpu" | "node" | "wasm" | "cpu";
export type BackendPreference = "auto" | BackendName;

/** The order `auto` tries, fastest first. */
export const AUTO_ORDER: readonly BackendName[] = ["node-gpu", "node", "wasm", "cpu"];

export interface SkippedBackend {
  name: BackendName;
  why: string;
}

export interface BackendSelection {
  /** The backend that is now active. */
  name: BackendName;
  /** tfjs's own name for it (`tensorflow` for both node backends). */
  tfjsName: string;
  /** Why this one: the explicit choice, or the first in auto order that loaded. */
  reason: string;
  /** Backends auto tried before this one, with why each did not load. */
  skipped: SkippedBackend[];
  /** Worker threads the wasm backend computes with (1 on Node: see `loadWasm`); absent otherwise. */
  threads?: number;
}

const INSTALL_HINT: Record<BackendName, string> = {
  "node-gpu":
    "npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs network access to download libtensorflow at install time, and CUDA 11.2 + cuDNN 8.1 on the machine)",
  node: "npm install @tensorflow/tfjs-node@4.22.0 (needs network access to download libtensorflow at install time)",
  wasm: "npm ci (@tensorflow/tfjs-backend-wasm is a dependency of this project)",
  cpu: "npm ci (@tensorflow/tfjs-backend-cpu is a dependency of this project)",
};

/** What loading a backend yields: tfjs's name for it, and facts worth reporting. */
interface Loaded {
  tfjsName: string;
  threads?: number;
}

type Loader = () => Promise<Loaded>;

const requireFromHere = createRequire(import.meta.url);

/**
 * Imports a package that may be absent. The specifier is a variable so that TypeScript does not
 * require the package's types at build time (it is not a dependency).
 */
async function importOptional(specifier: string): Promise<unknown> {
  return import(specifier);
}

/**
 * Both node packages register a backend called `tensorflow` in the tfjs-core they import. If the
 * package brought its own copy of tfjs-core (a version mismatch), ours never sees the backend:
 * say so instead of failing later with "backend not found".
 */
async function loadNode(pkg: string): Promise<Loaded> {
  await importOptional(pkg);
  if (!tf.findBackendFactory("tensorflow")) {
    throw new Error(
      `${pkg} loaded but registered no "tensorflow" backend with this project's @tensorflow/tfjs-core ${tf.version_core}; install the same version (4.22.x)`,
    );
  }
  return { tfjsName: "tensorflow" };
}

let wasmPathsSet = false;

/**
 * The wasm backend fetches its .wasm binaries at init; in Node it reads them from a folder.
 * Point it at the package's own dist/ folder, resolved through Node's module resolution, so no
 * network and no bundler assumption is involved.
 *
 * Threads: tfjs-backend-wasm reports no multithread support under Node
 * (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE; tfjs issue 3830), so it loads the
 * single-threaded SIMD binary and `setThreadsCount` has no effect. We still set it to the
 * machine's core count so a build that lifts that limit uses them, and report what it used.
 */
async function loadWasm(): Promise<Loaded> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  registerSegmentSum("wasm"); // the embedding gradient needs it: see segment-sum.ts
  registerTransposedMatMul(); // every backward product is a transposed one: see matmul-transpose.ts
  registerGatherRows(); // embedding rows: see gather-rows.ts
  if (!wasmPathsSet) {
    const main = requireFromHere.resolve("@tensorflow/tfjs-backend-wasm");
    wasm.setWasmPaths(`${path.dirname(main)}${path.sep}`);
    wasm.setThreadsCount(Math.max(1, os.availableParallelism()));
    wasmPathsSet = true;
  }
  return { tfjsName: "wasm" };
}

const LOADERS: Record<BackendName, Loader> = {
  "node-gpu": () => loadNode("@tensorflow/tfjs-node-gpu"),
  node: () => loadNode("@tensorflow/tfjs-node"),
  wasm: loadWasm,
  cpu: async () => {
    await import("@tensorflow/tfjs-backend-cpu");
    registerSegmentSum("cpu"); // the stock kernel is quadratic: see segment-sum.ts
    return { tfjsName: "cpu" };
  },
};

function reasonOf(error: unknown): string {
  if (error instanceof Error) {
    // Node's "Cannot find package 'x' imported from /long/path" is clear from its first line.
    return error.message.split("\n")[0] ?? error.message;
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    return String((error as { message: unknown }).message); // the wasm init rejects with { message }
  }
  return String(error);
}

/** Loads one backend and makes it the active one; throws with the reason when it cannot. */
async function activate(name: BackendName, loaders: Record<BackendName, Loader>): Promise<Loaded> {
  const loaded = await loaders[name]();
  // setBackend resolves false (it does not throw) when the backend's init fails.
  const ok = await tf.setBackend(loaded.tfjsName);
  if (!ok) throw new Error(`tfjs could not initialise the "${loaded.tfjsName}" backend`);
  await tf.ready();
  if (name === "wasm") {
    const { getThreadsCount } = await import("@tensorflow/tfjs-backend-wasm");
    return { ...loaded, threads: getThreadsCount() };
  }
  return loaded;
}

/**
 * Makes the preferred backend active. `auto` tries node-gpu → node → wasm → cpu and keeps the
 * first that loads, recording why each earlier one was skipped; an explicit choice that cannot
 * load is an error naming the backend, why, and what to install.
 *
 * `loaders` replaces how backends are loaded (tests use it to simulate an absent or broken one).
 */
export async function selectBackend(
  preference: BackendPreference,
  loaders: Partial<Record<BackendName, Loader>> = {},
): Promise<BackendSelection> {
  const use = { ...LOADERS, ...loaders };
  if (preference !== "auto") {
    try {
      const loaded = await activate(preference, use);
      return {
        name: preference,
        ...loaded,
        reason: `chosen explicitly (--backend ${preference})`,
        skipped: [],
      };
    } catch (error) {
      throw new PipelineError(
        `the "${preference}" tfjs backend could not be loaded: ${reasonOf(error)}`,
        1,
        `install it with: ${INSTALL_HINT[preference]}; or pass --backend auto to use the best backend that loads`,
      );
    }
  }
  const skipped: SkippedBackend[] = [];
  for (const name of AUTO_ORDER) {
    try {
      const loaded = await activate(name, use);
      const reason = skipped.length
        ? `auto: first backend that loaded (tried ${[...skipped.map((s) => s.name), name].join(" → ")})`
        : "auto: the fastest backend, and it loaded";
      return { name, ...loaded, reason, skipped };
    } catch (error) {
      skipped.push({ name, why: reasonOf(error) });
    }
  }
  throw new PipelineError(
    `no tfjs backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.why}`).join("; ")}`,
    1,
    "run npm ci: the wasm and cpu backends are dependencies of this project",
  );
}
