/**
 * Training-speed benchmark: examples (targets) per second of the seeds' recipe —
 * Embedding(32) → Dropout(0.3) → LSTM(32) → Dense(vocab, softmax), Adam 1e-3, full softmax,
 * every prefix of a session an example, batch 256 — on the same examples, measured in one run:
 *
 * - tfjs-layers' `trainOnBatch` on wasm (how the template trained before its own engine), every
 *   example left-padded to 20 steps;
 * - this project's engine (pipeline/train/: fused recurrent ops, analytic softmax gradient,
 *   wasm kernels for transposed products and row gathers, length-bucketed batches) on wasm and
 *   on cpu;
 * - PyTorch (where `import torch` works), the same layers, every example padded to 20 steps as
 *   the recipe pads them, on 1 thread and on all;
 * - the engine with the default preset's network and loss (tied GRU(64), every position of a
 *   session one loss row, batches of 512 rows, 1,024 popularity-sampled negatives with logQ),
 *   per loss row.
 *
 * Ratios are printed against PyTorch and against tfjs-layers, measured in the same run. Prints;
 * asserts nothing.
 *
 *   npx tsx bench/train.ts [--vocab 10000] [--sessions 3000] [--seconds 6] [--no-torch]
 *                          [--no-layers]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import type { NetConfig } from "../pipeline/model/net.ts";
import { seededFloats } from "../pipeline/prng.ts";
import { selectBackend, type BackendName } from "../pipeline/train/backend.ts";
import {
  countTargets,
  epochBatches,
  type BatchPlan,
  type TrainBatch,
} from "../pipeline/train/batches.ts";
import { sessionBlock, type SessionBlock } from "../pipeline/model/sessions.ts";
import { fullSoftmax, sampledSoftmax, type Head } from "../pipeline/train/heads.ts";
import { initialWeights, TrainableNet } from "../pipeline/train/net.ts";
import { findTorchPython, TORCH_LSTM } from "./torch.ts";

const { values } = parseArgs({
  options: {
    vocab: { type: "string", default: "10000" },
    sessions: { type: "string", default: "3000" },
    seconds: { type: "string", default: "6" },
    "no-torch": { type: "boolean", default: false },
    "no-layers": { type: "boolean", default: false },
  },
});
const vocab = Number(values.vocab);
const seconds = Number(values.seconds);
const MAX_LEN = 20;
const BATCH = 256;

/** Sessions of 2–21 items, heavy-tailed popularity (ids follow popularity, as the vocabulary's). */
function syntheticSessions(count: number, seed: number): SessionBlock {
  const next = seededFloats(seed);
  const item = () => 2 + Math.min(vocab - 3, Math.floor((vocab - 2) * next() ** 3));
  return sessionBlock(
    Array.from({ length: count }, () => Array.from({ length: 2 + Math.floor(next() * 20) }, item)),
  );
}

const block = syntheticSessions(Number(values.sessions), 1);
const recipePlan: BatchPlan = { mode: "all-prefixes", maxLen: MAX_LEN, batchSize: BATCH };
const examples = countTargets(block, recipePlan);
const counts = new Float64Array(vocab);
for (const id of block.ids) counts[id] = (counts[id] as number) + 1;

/** The recipe's examples, each left-padded to 20 steps + its target: [n, 21] int32. */
function paddedExamples(): Int32Array {
  const out = new Int32Array(examples * (MAX_LEN + 1));
  let row = 0;
  for (const batch of epochBatches(block, recipePlan)) {
    batch.positions.forEach((position, i) => {
      const r = position % batch.rows;
      const length = Math.floor(position / batch.rows) + 1;
      const base = row * (MAX_LEN + 1);
      out.set(
        batch.inputs.subarray(r * batch.steps, r * batch.steps + length),
        base + MAX_LEN - length,
      );
      out[base + MAX_LEN] = batch.targets[i] as number;
      row++;
    });
  }
  return out;
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toString() : n.toPrecision(3));
const line = (label: string, perSecond: number, extra = "") =>
  console.log(`  ${label.padEnd(58)} ${fmt(perSecond).padStart(8)} examples/s${extra}`);

/**
 * Examples per second of `step` over whole epochs' batches, for about `seconds` after one
 * warm-up batch; the best of two halves, so a burst of other load on the machine costs less.
 */
async function measure(batches: () => Iterable<{ size: number; run: () => Promise<void> | void }>) {
  const all = [...batches()];
  await all[0]?.run();
  let best = 0;
  for (let half = 0; half < 2; half++) {
    let done = 0;
    const started = performance.now();
    let i = 0;
    while (performance.now() - started < (seconds * 1000) / 2) {
      const b = all[i++ % all.length] as (typeof all)[number];
      await b.run();
      done += b.size;
    }
    best = Math.max(best, done / ((performance.now() - started) / 1000));
  }
  return best;
}

/** The engine training `config` with `head` over `plan`'s batches; examples (loss rows) per second. */
async function engine(
  config: NetConfig,
  plan: BatchPlan,
  head: Head,
  learningRate: number,
  dropout: number,
) {
  const net = new TrainableNet(config, initialWeights(config, { seed: 1 }));
  const optimizer = tf.train.adam(learningRate);
  const variables = [...net.variables.values()];
  let step = 0;
  const run = (batch: TrainBatch) => {
    const at = step++;
    const cost = optimizer.minimize(
      () => {
        const states = net.states(
          { rows: batch.rows, steps: batch.steps, ids: batch.inputs },
          { rate: dropout, seed: 1, step: at },
        );
        return head(
          net,
          tf.gather(states, tf.tensor1d(batch.positions, "int32")) as tf.Tensor2D,
          batch.targets,
          at,
        );
      },
      true,
      variables,
    );
    cost?.dataSync();
    cost?.dispose();
  };
  const rate = await measure(() =>
    [...epochBatches(block, plan, { seed: 1, epoch: 1 })].map((batch) => ({
      size: batch.targets.length,
      run: () => run(batch),
    })),
  );
  optimizer.dispose();
  net.dispose();
  return rate;
}

const recipe: NetConfig = {
  cell: "lstm",
  vocabSize: vocab,
  embeddingDim: 32,
  hiddenUnits: 32,
  layers: 1,
  tied: false,
  maxLen: MAX_LEN,
};

console.log(
  `train bench: vocab ${vocab}, ${Number(values.sessions)} sessions of 2–21 items = ${examples} recipe examples (every prefix), batch ${BATCH}`,
);
console.log(
  `  node ${process.version}, ${os.availableParallelism()} cores, ${seconds} s per measurement`,
);

// --- 1. the recipe: tfjs-layers, the engine, PyTorch -------------------------------------------
console.log("\nthe seeds' recipe (full softmax, Adam 1e-3, dropout 0.3):");
const padded = paddedExamples();
let layersRate: number | undefined;
if (!values["no-layers"]) {
  await selectBackend("wasm");
  const model = tf.sequential();
  model.add(
    tf.layers.embedding({ inputDim: vocab, outputDim: 32, inputLength: MAX_LEN, maskZero: true }),
  );
  model.add(tf.layers.dropout({ rate: 0.3 }));
  model.add(tf.layers.lstm({ units: 32, recurrentActivation: "sigmoid" }));
  model.add(tf.layers.dense({ units: vocab, activation: "softmax" }));
  model.compile({ optimizer: tf.train.adam(1e-3), loss: "sparseCategoricalCrossentropy" });
  const batches = () => {
    const out = [];
    for (let start = 0; start + BATCH <= examples; start += BATCH) {
      const rows = padded.subarray(start * (MAX_LEN + 1), (start + BATCH) * (MAX_LEN + 1));
      const x = Int32Array.from(
        { length: BATCH * MAX_LEN },
        (_, i) => rows[Math.floor(i / MAX_LEN) * (MAX_LEN + 1) + (i % MAX_LEN)] as number,
      );
      const y = Float32Array.from(
        { length: BATCH },
        (_, r) => rows[r * (MAX_LEN + 1) + MAX_LEN] as number,
      );
      out.push({
        size: BATCH,
        run: async () => {
          const [xs, ys] = [tf.tensor2d(x, [BATCH, MAX_LEN], "int32"), tf.tensor1d(y)];
          await model.trainOnBatch(xs, ys);
          tf.dispose([xs, ys]);
        },
      });
    }
    return out;
  };
  layersRate = await measure(batches);
  line("tfjs-layers trainOnBatch, wasm (before)", layersRate);
  model.dispose();
}

const engineRates = new Map<BackendName, number>();
for (const backend of ["wasm", "cpu"] as const) {
  await selectBackend(backend);
  const rate = await engine(recipe, recipePlan, fullSoftmax, 1e-3, 0.3);
  engineRates.set(backend, rate);
  line(
    `engine, ${backend}`,
    rate,
    layersRate && backend === "wasm" ? `  ×${(rate / layersRate).toFixed(2)} tfjs-layers` : "",
  );
}

const TORCH_SCRIPT = String.raw`
import json, sys, time
import numpy as np
import torch
path, vocab, batch, seconds, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads)
torch.manual_seed(42)
${TORCH_LSTM}
data = torch.from_numpy(np.fromfile(path, dtype=np.int32).reshape(-1, 21).astype(np.int64))
model = Model()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
batches = [data[i:i + batch] for i in range(0, len(data) - batch + 1, batch)]
def step(b):
    opt.zero_grad()
    loss_fn(model(b[:, :20]), b[:, 20]).backward()
    opt.step()
step(batches[0])
best, k = 0.0, 1
for _ in range(2):
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds / 2:
        step(batches[k % len(batches)]); k += 1; done += batch
    best = max(best, done / (time.perf_counter() - t0))
print(json.dumps({"rate": best, "threads": torch.get_num_threads(), "version": torch.__version__}))
`;

let torchRate: number | undefined;
if (!values["no-torch"]) {
  const python = findTorchPython();
  if (!python) {
    console.log(
      "  torch is absent (python3 -c 'import torch' fails): skipped. On Debian: apt-get install python3-torch",
    );
  } else {
    const dir = mkdtempSync(path.join(os.tmpdir(), "train-bench-"));
    try {
      writeFileSync(path.join(dir, "examples.bin"), padded);
      writeFileSync(path.join(dir, "torch_step.py"), TORCH_SCRIPT);
      for (const threads of [...new Set([1, os.availableParallelism()])]) {
        const out = execFileSync(
          python,
          [
            path.join(dir, "torch_step.py"),
            path.join(dir, "examples.bin"),
            String(vocab),
            String(BATCH),
            String(seconds),
            String(threads),
          ],
          { encoding: "utf8", timeout: 600_000 },
        );
        const torch = JSON.parse(out.trim().split("\n").at(-1) as string) as {
          rate: number;
          threads: number;
          version: string;
        };
        torchRate = Math.max(torchRate ?? 0, torch.rate);
        line(`PyTorch ${torch.version} CPU, ${torch.threads} thread(s), padded to 20`, torch.rate);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const wasm = engineRates.get("wasm") as number;
    console.log(
      `  ratio engine on wasm / PyTorch (its best): ${(wasm / (torchRate as number)).toFixed(2)}`,
    );
  }
}

// --- 2. the default preset's network and loss ----------------------------------------------------
console.log(
  "\nthe default preset's network (tied GRU(64), sequence rows of 512, 1,024 sampled negatives, logQ):",
);
await selectBackend("wasm");
const hybrid: NetConfig = {
  cell: "gru",
  vocabSize: vocab,
  embeddingDim: 64,
  hiddenUnits: 64,
  layers: 1,
  tied: true,
  maxLen: MAX_LEN,
};
const sequencePlan: BatchPlan = { mode: "sequence", maxLen: MAX_LEN, batchSize: 512 };
const sampled = sampledSoftmax(counts, { negatives: 1024, alpha: 0.5, logQ: 1 }, 1);
const hybridRate = await engine(hybrid, sequencePlan, sampled, 5e-3, 0.2);
line("engine, wasm, per loss row", hybridRate);
const full = await engine(hybrid, sequencePlan, fullSoftmax, 5e-3, 0.2);
line("engine, wasm, per loss row, full softmax instead", full);
