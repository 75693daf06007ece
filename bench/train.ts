/**
 * Training-step benchmark: sequences/s of the next-item model on each tfjs backend that loads,
 * on synthetic in-memory batches (no warehouse), plus the same model in PyTorch where
 * `import torch` works, a profile of where a wasm step spends its time, and the speed options
 * (loss, cell, batch) measured against the seeds' recipe. Prints; asserts nothing.
 *
 *   npx tsx bench/train.ts [--vocab 10000] [--batch 256] [--len 20] [--reps 3] [--min-seconds 1.5]
 *                          [--backends node-gpu,node,wasm,cpu] [--no-torch] [--no-profile] [--no-variants]
 *                          [--quality-steps 0]
 *
 * --quality-steps N additionally trains the recipe and the sampled-softmax variant for N steps
 * each on a learnable synthetic process and prints both models' full-softmax loss and HR@10 on
 * held-out sequences, so a speed-up can be checked for what it costs in quality.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import { selectBackend, type BackendName } from "../pipeline/train/backend.ts";
import {
  buildModel,
  DEFAULT_MODEL_CONFIG,
  topK,
  type ModelConfig,
} from "../pipeline/train/model.ts";
import { createTrainStep, fullSoftmaxLoss, type StepOptions } from "../pipeline/train/step.ts";
import { seededFloats } from "../pipeline/prng.ts";
import { findTorchPython, TORCH_LSTM } from "./torch.ts";

const { values } = parseArgs({
  options: {
    vocab: { type: "string", default: "10000" },
    batch: { type: "string", default: "256" },
    len: { type: "string", default: "20" },
    reps: { type: "string", default: "3" },
    "min-seconds": { type: "string", default: "1.5" },
    backends: { type: "string", default: "node-gpu,node,wasm,cpu" },
    "no-torch": { type: "boolean", default: false },
    "no-profile": { type: "boolean", default: false },
    "no-variants": { type: "boolean", default: false },
    "quality-steps": { type: "string", default: "0" },
  },
});
const vocab = Number(values.vocab);
const batch = Number(values.batch);
const maxLen = Number(values.len);
const reps = Number(values.reps);
const minSeconds = Number(values["min-seconds"]);
const recipe: ModelConfig = { ...DEFAULT_MODEL_CONFIG, vocabSize: vocab, maxLen };

interface Batch {
  x: Int32Array;
  y: Int32Array;
  size: number;
}

/** Random sessions: lengths 1..maxLen (left-padded), Zipf-ish item popularity. */
function syntheticBatches(count: number, size: number, seed: number): Batch[] {
  const next = seededFloats(seed);
  const item = () => 2 + Math.min(vocab - 3, Math.floor((vocab - 2) * next() ** 3));
  return Array.from({ length: count }, () => {
    const x = new Int32Array(size * maxLen);
    const y = Int32Array.from({ length: size }, item);
    for (let row = 0; row < size; row++) {
      const length = 1 + Math.floor(next() * maxLen);
      for (let i = maxLen - length; i < maxLen; i++) x[row * maxLen + i] = item();
    }
    return { x, y, size };
  });
}

/** A step that feeds one batch: tensors are made from the typed arrays each time, as a trainer would. */
type Step = (b: Batch) => Promise<void> | void;

function tensors(b: Batch): { x: tf.Tensor2D; y: tf.Tensor1D } {
  return { x: tf.tensor2d(b.x, [b.size, maxLen], "int32"), y: tf.tensor1d(b.y, "float32") };
}

function recipeStep(model: tf.Sequential): Step {
  return async (b) => {
    const { x, y } = tensors(b);
    await model.trainOnBatch(x, y);
    tf.dispose([x, y]);
  };
}

function customStep(model: tf.Sequential, options: StepOptions): Step {
  const step = createTrainStep(model, options);
  return (b) => {
    const { x, y } = tensors(b);
    step(x, y);
    tf.dispose([x, y]);
  };
}

/** Best-of-`reps` sequences/s; each repetition runs whole steps for at least `minSeconds`. */
async function measure(
  step: Step,
  batches: Batch[],
): Promise<{ seqPerSec: number; msPerStep: number }> {
  await step(batches[0] as Batch); // warm-up: kernel setup, weight/optimizer-state allocation
  let best = 0;
  let bestMs = Infinity;
  let k = 1;
  for (let rep = 0; rep < reps; rep++) {
    let steps = 0;
    let rows = 0;
    const started = performance.now();
    while (steps === 0 || performance.now() - started < minSeconds * 1000) {
      const b = batches[k++ % batches.length] as Batch;
      await step(b);
      rows += b.size;
      steps++;
    }
    const seconds = (performance.now() - started) / 1000;
    if (rows / seconds > best) {
      best = rows / seconds;
      bestMs = (seconds * 1000) / steps;
    }
  }
  return { seqPerSec: best, msPerStep: bestMs };
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toPrecision(3));
const line = (label: string, r: { seqPerSec: number; msPerStep: number }, extra = "") =>
  console.log(
    `  ${label.padEnd(44)} ${fmt(r.seqPerSec).padStart(8)} seq/s  ${fmt(r.msPerStep).padStart(7)} ms/step${extra}`,
  );

console.log(
  `train bench: vocab ${vocab}, batch ${batch}, length ${maxLen}; recipe Embedding(${recipe.embeddingDim}, maskZero) → Dropout ${recipe.dropout} → LSTM(${recipe.hiddenUnits}) → Dense(vocab, softmax), Adam ${recipe.learningRate}`,
);
console.log(
  `  node ${process.version}, ${os.availableParallelism()} cores, best of ${reps} × ≥${minSeconds}s`,
);

// --- 1. the recipe on every backend that loads -------------------------------------------------
const results = new Map<BackendName, number>();
const batches = syntheticBatches(8, batch, 1);
console.log("\nrecipe (model.trainOnBatch), per backend:");
for (const name of values.backends.split(",") as BackendName[]) {
  let threads = "";
  try {
    const selection = await selectBackend(name);
    if (selection.threads !== undefined) threads = `, ${selection.threads} thread(s)`;
  } catch (error) {
    console.log(
      `  ${name.padEnd(44)} not available: ${(error as Error).message.split(": ").slice(1).join(": ")}`,
    );
    continue;
  }
  const model = buildModel(recipe);
  const r = await measure(recipeStep(model), batches);
  line(`${name}${threads}`, r);
  results.set(name, r.seqPerSec);
  model.dispose();
}
const wasmRate = results.get("wasm");
const cpuRate = results.get("cpu");
if (wasmRate && cpuRate) console.log(`  ratio wasm / cpu: ${(wasmRate / cpuRate).toFixed(2)}`);
for (const node of ["node", "node-gpu"] as const) {
  const rate = results.get(node);
  if (rate && wasmRate) console.log(`  ratio ${node} / wasm: ${(rate / wasmRate).toFixed(2)}`);
}

// --- 2. the same model in PyTorch --------------------------------------------------------------
const TORCH_SCRIPT = String.raw`
import json, sys, time, os
import torch
vocab, batch, max_len, reps, min_seconds, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
torch.set_num_threads(threads)
torch.manual_seed(42)
${TORCH_LSTM}
model = Model()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()   # log-softmax + NLL: the full softmax over the vocabulary
g = torch.Generator().manual_seed(1)
batches = []
for _ in range(8):
    lengths = torch.randint(1, max_len + 1, (batch,), generator=g)
    x = (2 + ((vocab - 2) * torch.rand(batch, max_len, generator=g) ** 3).long().clamp(max=vocab - 3))
    x[torch.arange(max_len).unsqueeze(0) < (max_len - lengths).unsqueeze(1)] = 0
    y = 2 + ((vocab - 2) * torch.rand(batch, generator=g) ** 3).long().clamp(max=vocab - 3)
    batches.append((x, y))
def step(b):
    opt.zero_grad()
    loss = loss_fn(model(b[0]), b[1])
    loss.backward()
    opt.step()
step(batches[0])
best, k = 0.0, 1
for _ in range(reps):
    steps, t0 = 0, time.perf_counter()
    while steps == 0 or time.perf_counter() - t0 < min_seconds:
        step(batches[k % 8]); k += 1; steps += 1
    best = max(best, steps * batch / (time.perf_counter() - t0))
print(json.dumps({"seqPerSec": best, "threads": torch.get_num_threads(), "version": torch.__version__}))
`;

/** The fastest PyTorch run (all threads), the reference the speed options are compared with. */
let torchRate: number | undefined;
if (!values["no-torch"]) {
  console.log("\nPyTorch, same layers, batch and length (CPU):");
  const python = findTorchPython();
  if (!python) {
    console.log(
      "  torch is absent (python3 -c 'import torch' fails): skipped. On Debian: apt-get install python3-torch",
    );
  } else {
    const dir = mkdtempSync(path.join(os.tmpdir(), "train-bench-"));
    const script = path.join(dir, "torch_step.py");
    writeFileSync(script, TORCH_SCRIPT);
    try {
      for (const threads of [...new Set([1, os.availableParallelism()])]) {
        const out = execFileSync(
          python,
          [
            script,
            String(vocab),
            String(batch),
            String(maxLen),
            String(reps),
            String(minSeconds),
            String(threads),
          ],
          { encoding: "utf8", timeout: 600_000 },
        );
        const torch = JSON.parse(out.trim().split("\n").at(-1) as string) as {
          seqPerSec: number;
          threads: number;
          version: string;
        };
        line(`torch ${torch.version} (${python}), ${torch.threads} thread(s)`, {
          seqPerSec: torch.seqPerSec,
          msPerStep: (1000 * batch) / torch.seqPerSec,
        });
        torchRate = Math.max(torchRate ?? 0, torch.seqPerSec);
        if (wasmRate)
          console.log(
            `    ratio tfjs-wasm / torch (${torch.threads} thread(s)): ${(wasmRate / torch.seqPerSec).toFixed(3)}`,
          );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

// --- 3. where a wasm step spends its time --------------------------------------------------------
if (!values["no-profile"] && results.has("wasm")) {
  await selectBackend("wasm");
  console.log("\nprofile of one wasm recipe step (tf.profile):");
  const model = buildModel(recipe);
  const step = recipeStep(model);
  await step(batches[0] as Batch);
  const started = performance.now();
  const profile = await tf.profile(() => step(batches[1] as Batch));
  const wallMs = performance.now() - started;
  const kernelMs = profile.kernels.reduce((sum, k) => sum + Number(k.kernelTimeMs), 0);
  // Kernels touching a vocabulary-sized tensor belong to the output layer (and the embedding
  // gradient, whose [vocab, dim] sum is tiny by comparison).
  const touchesVocab = (k: (typeof profile.kernels)[number]) =>
    [...k.inputShapes, ...k.outputShapes].some((shape) => shape?.includes(vocab));
  const vocabMs = profile.kernels
    .filter(touchesVocab)
    .reduce((sum, k) => sum + Number(k.kernelTimeMs), 0);
  console.log(
    `  ${profile.kernels.length} kernel calls; wall ${wallMs.toFixed(0)} ms (profiling adds some), kernels ${kernelMs.toFixed(0)} ms, ` +
      `outside kernels ${(wallMs - kernelMs).toFixed(0)} ms = ${(((wallMs - kernelMs) / profile.kernels.length) * 1000).toFixed(0)} µs per call`,
  );
  console.log(
    `  kernels on vocabulary-sized tensors (output layer, softmax, loss): ${vocabMs.toFixed(0)} ms (${((100 * vocabMs) / kernelMs).toFixed(0)}% of kernel time); ` +
      `the rest (embedding, ${maxLen} unrolled LSTM steps, masks, optimizer): ${(kernelMs - vocabMs).toFixed(0)} ms`,
  );
  const byName = new Map<string, { calls: number; ms: number; vocabMs: number }>();
  for (const k of profile.kernels) {
    const entry = byName.get(k.name) ?? { calls: 0, ms: 0, vocabMs: 0 };
    entry.calls++;
    entry.ms += Number(k.kernelTimeMs);
    if (touchesVocab(k)) entry.vocabMs += Number(k.kernelTimeMs);
    byName.set(k.name, entry);
  }
  console.log("  top kernels:");
  for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10)) {
    console.log(
      `    ${name.padEnd(22)} ×${String(e.calls).padEnd(5)} ${e.ms.toFixed(1).padStart(7)} ms  (on vocab-sized tensors: ${e.vocabMs.toFixed(1)} ms)`,
    );
  }
  // Data feeding: making the two input tensors from typed arrays, as every step does.
  const feedStarted = performance.now();
  for (let i = 0; i < 200; i++) tf.dispose(Object.values(tensors(batches[i % 8] as Batch)));
  const feedMs = (performance.now() - feedStarted) / 200;
  console.log(
    `  data feeding (tensor2d + tensor1d from typed arrays): ${(feedMs * 1000).toFixed(0)} µs per batch`,
  );
  model.dispose();
}

// --- 4. speed options against the recipe, on wasm ------------------------------------------------
if (!values["no-variants"] && results.has("wasm")) {
  await selectBackend("wasm");
  console.log("\nspeed options on wasm (same data; relative to the recipe's seq/s):");
  const base = results.get("wasm") as number;
  const variants: {
    label: string;
    config?: Partial<ModelConfig>;
    size?: number;
    step?: StepOptions;
  }[] = [
    {
      label: "custom step, full softmax (logsumexp loss)",
      step: { loss: "full", negatives: 0, seed: 1 },
    },
    {
      label: "custom step, sampled 1024 negatives (default)",
      step: { loss: "sampled", negatives: 1024, seed: 1 },
    },
    {
      label: "custom step, sampled softmax, 256 negatives",
      step: { loss: "sampled", negatives: 256, seed: 1 },
    },
    { label: "GRU instead of LSTM", config: { cell: "gru" } },
    { label: "batch 512", size: 512 },
    { label: "batch 1024", size: 1024 },
    {
      label: "sampled 1024 negatives + batch 1024",
      size: 1024,
      step: { loss: "sampled", negatives: 1024, seed: 1 },
    },
    {
      label: "sampled 1024 negatives + GRU + batch 1024",
      size: 1024,
      config: { cell: "gru" },
      step: { loss: "sampled", negatives: 1024, seed: 1 },
    },
  ];
  for (const v of variants) {
    if (v.step && v.step.negatives >= vocab - 2) continue; // a vocabulary too small for that sample
    const model = buildModel({ ...recipe, ...v.config });
    const step = v.step ? customStep(model, v.step) : recipeStep(model);
    const data = v.size && v.size !== batch ? syntheticBatches(4, v.size, 2) : batches;
    const r = await measure(step, data);
    const vsTorch = torchRate ? `, ${(r.seqPerSec / torchRate).toFixed(2)} × torch` : "";
    line(v.label, r, `  ×${(r.seqPerSec / base).toFixed(2)} recipe${vsTorch}`);
    model.dispose();
  }
}

// --- 5. what a speed option costs in quality ----------------------------------------------------
const qualitySteps = Number(values["quality-steps"]);
if (qualitySteps > 0 && results.has("wasm")) {
  await selectBackend("wasm");
  console.log(
    `\nquality after ${qualitySteps} steps on a learnable process (held-out full-softmax loss, HR@10):`,
  );
  // next item = a fixed random successor of the last item 70% of the time, else a popular item.
  const next = seededFloats(7);
  const successor = Int32Array.from({ length: vocab }, () => 2 + Math.floor(next() * (vocab - 2)));
  const session = (): number[] => {
    const items = [2 + Math.floor(next() * (vocab - 2))];
    const length = 2 + Math.floor(next() * maxLen);
    while (items.length < length) {
      const last = items[items.length - 1] as number;
      items.push(
        next() < 0.7 ? (successor[last] as number) : 2 + Math.floor((vocab - 2) * next() ** 3),
      );
    }
    return items;
  };
  const makeBatch = (size: number): Batch => {
    const x = new Int32Array(size * maxLen);
    const y = new Int32Array(size);
    for (let row = 0; row < size; row++) {
      const s = session();
      y[row] = s.pop() as number;
      const kept = s.slice(-maxLen);
      x.set(kept, row * maxLen + maxLen - kept.length);
    }
    return { x, y, size };
  };
  const heldOut = makeBatch(2000);
  const negatives = Math.min(1024, Math.floor((vocab - 2) / 2));
  const sampled: StepOptions = { loss: "sampled", negatives, seed: 1 };
  let recipeSeconds = 0;
  for (const v of [
    { label: "recipe (full softmax)", step: undefined, sameTime: false },
    {
      label: `sampled softmax, ${negatives} negatives, same steps`,
      step: sampled,
      sameTime: false,
    },
    { label: `sampled softmax, ${negatives} negatives, same time`, step: sampled, sameTime: true },
  ]) {
    const model = buildModel(recipe);
    const step = v.step ? customStep(model, v.step) : recipeStep(model);
    const started = performance.now();
    let steps = 0;
    const more = () =>
      v.sameTime ? performance.now() - started < recipeSeconds * 1000 : steps < qualitySteps;
    while (more()) {
      await step(makeBatch(batch));
      steps++;
    }
    const seconds = (performance.now() - started) / 1000;
    if (!v.step) recipeSeconds = seconds;
    const { x, y } = tensors(heldOut);
    const loss = fullSoftmaxLoss(model, x, y);
    const top = await topK(model, heldOut.x, 10);
    let hits = 0;
    for (let row = 0; row < heldOut.size; row++) {
      if (top.ids.subarray(row * 10, row * 10 + 10).includes(heldOut.y[row] as number)) hits++;
    }
    console.log(
      `  ${v.label.padEnd(48)} loss ${loss.toFixed(3)}  HR@10 ${(hits / heldOut.size).toFixed(3)}  (${steps} steps, ${seconds.toFixed(0)} s)`,
    );
    tf.dispose([x, y]);
    model.dispose();
  }
}
