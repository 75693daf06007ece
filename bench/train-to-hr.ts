/**
 * Time to a fixed validation HR@20: the trainer on the pipeline's own data (generated, uploaded
 * and transformed by the CLI into a temporary folder), for the seeds' recipe and the speed
 * options, and where `import torch` works, the same LSTM in PyTorch on the same encoded examples
 * (full softmax, as the recipe). Training seconds only (validation excluded on both sides).
 * Prints; asserts nothing.
 *
 *   npx tsx bench/train-to-hr.ts [--sessions 20000] [--skus 2000] [--target 0.2] [--max-epochs 8]
 *                                [--no-torch]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { silentReporter } from "../pipeline/reporter.ts";
import { selectBackend } from "../pipeline/train/backend.ts";
import { batches, buildVocabulary, countExamples, type Batch } from "../pipeline/train/dataset.ts";
import { DEFAULT_MODEL_CONFIG, type ModelConfig } from "../pipeline/train/model.ts";
import { trainModel, type TrainingOptions } from "../pipeline/train/trainer.ts";
import { DuckDbWarehouse } from "../pipeline/warehouse/duckdb.ts";
import { findTorchPython, TORCH_LSTM } from "./torch.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "20000" },
    skus: { type: "string", default: "2000" },
    target: { type: "string", default: "0.2" },
    "max-epochs": { type: "string", default: "8" },
    "no-torch": { type: "boolean", default: false },
  },
});
const target = Number(values.target);
const maxEpochs = Number(values["max-epochs"]);
const BIN = fileURLToPath(new URL("../bin/pipeline.js", import.meta.url));

const dir = mkdtempSync(path.join(os.tmpdir(), "train-to-hr-"));
const wh = path.join(dir, ".mlops", "warehouse.duckdb");
console.log(`preparing ${values.sessions} sessions (${values.skus} SKUs) in ${dir} …`);
execFileSync(process.execPath, [BIN, "run", "--until", "transform"], {
  cwd: dir,
  env: {
    ...process.env,
    CI: "true",
    MLOPS_SESSIONS: values.sessions,
    MLOPS_SKUS: values.skus,
    MLOPS_DBT: "builtin",
  },
  stdio: "ignore",
});
const warehouse = await DuckDbWarehouse.open(wh);
const vocabulary = await buildVocabulary(warehouse, {});
const trainCounts = await countExamples(warehouse, vocabulary, { split: "train" });
console.log(
  `vocabulary ${vocabulary.size} ids, ${trainCounts.kept} train examples; target validation HR@20 ${target}, at most ${maxEpochs} epochs`,
);
const backend = await selectBackend("auto");

interface Outcome {
  label: string;
  seconds: number | null;
  epochs: number;
  best: number;
  perEpoch: number;
}

function reached(label: string, history: { validationHr20: number; seconds: number }[]): Outcome {
  let seconds = 0;
  for (const [i, e] of history.entries()) {
    seconds += e.seconds;
    if (e.validationHr20 >= target) {
      return { label, seconds, epochs: i + 1, best: e.validationHr20, perEpoch: seconds / (i + 1) };
    }
  }
  const total = history.reduce((sum, e) => sum + e.seconds, 0);
  return {
    label,
    seconds: null,
    epochs: history.length,
    best: Math.max(0, ...history.map((e) => e.validationHr20)),
    perEpoch: total / Math.max(1, history.length),
  };
}

const base: TrainingOptions = {
  epochs: maxEpochs,
  batchSize: 256,
  mode: "all-prefixes",
  loss: "full",
  negatives: 1024,
  patience: 0,
  validationExamples: 10_000,
  shuffleBuffer: 10_000,
};
const variants: {
  label: string;
  model: Partial<ModelConfig>;
  options: Partial<TrainingOptions>;
}[] = [
  { label: "recipe: full softmax, Adam 1e-3", model: {}, options: {} },
  { label: "full softmax, Adam 1e-2", model: { learningRate: 0.01 }, options: {} },
  {
    label: "default: sampled 1024, Adam 1e-2",
    model: { learningRate: 0.01 },
    options: { loss: "sampled", negatives: 1024 },
  },
  {
    label: "sampled 256, Adam 1e-2",
    model: { learningRate: 0.01 },
    options: { loss: "sampled", negatives: 256 },
  },
];
const outcomes: Outcome[] = [];
for (const v of variants) {
  if (v.options.negatives !== undefined && v.options.negatives >= vocabulary.size - 2) continue;
  const result = await trainModel({
    warehouse,
    vocabulary,
    model: { ...DEFAULT_MODEL_CONFIG, vocabSize: vocabulary.size, ...v.model },
    options: { ...base, ...v.options },
    reporter: silentReporter(),
    trainExamples: trainCounts.kept,
    fingerprint: "bench",
    resume: false,
    excludeLastItem: true,
  });
  result.model.optimizer?.dispose();
  result.model.dispose();
  const outcome = reached(`tfjs-${backend.name}, ${v.label}`, result.history.epochs);
  outcomes.push(outcome);
  print(outcome);
}

function print(o: Outcome): void {
  const time =
    o.seconds === null
      ? `not reached in ${o.epochs} epochs`
      : `${o.seconds.toFixed(0)} s (${o.epochs} epochs)`;
  console.log(
    `  ${o.label.padEnd(52)} ${time.padStart(26)}  ${o.seconds === null ? "best" : "then"} HR@20 ${o.best.toFixed(3)}  ${o.perEpoch.toFixed(1)} s/epoch`,
  );
}

// --- PyTorch on the same encoded examples --------------------------------------------------------
const TORCH_SCRIPT = String.raw`
import json, sys, time
import numpy as np
import torch
folder, vocab, max_len, max_epochs, target, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
torch.manual_seed(42)
load = lambda name, cols: torch.from_numpy(np.fromfile(f"{folder}/{name}", dtype=np.int32).reshape(-1, cols).astype(np.int64))
tx, ty = load("train_x.bin", max_len), load("train_y.bin", 1).squeeze(1)
vx, vy = load("valid_x.bin", max_len), load("valid_y.bin", 1).squeeze(1)
${TORCH_LSTM}
model = Model()
opt = torch.optim.Adam(model.parameters(), lr=lr)
loss_fn = torch.nn.CrossEntropyLoss()
spent, history = 0.0, []
for epoch in range(max_epochs):
    model.train()
    t0 = time.perf_counter()
    for i in torch.randperm(len(tx)).split(256):
        opt.zero_grad()
        loss_fn(model(tx[i]), ty[i]).backward()
        opt.step()
    spent += time.perf_counter() - t0
    model.eval()
    hits = 0
    with torch.no_grad():
        for i in torch.arange(len(vx)).split(1024):
            logits = model(vx[i])
            logits[:, :2] = -1e9
            logits.scatter_(1, vx[i][:, -1:], -1e9)
            hits += (logits.topk(20, 1).indices == vy[i].unsqueeze(1)).any(1).sum().item()
    hr = hits / len(vx)
    history.append({"epoch": epoch + 1, "hr20": hr, "seconds": spent})
    if hr >= target:
        break
print(json.dumps({"history": history, "threads": torch.get_num_threads(), "version": torch.__version__}))
`;

async function exportSplit(split: "train" | "validation", name: string, limit?: number) {
  const xs: Int32Array[] = [];
  const ys: Int32Array[] = [];
  let rows = 0;
  for await (const b of batches(warehouse, vocabulary, {
    split,
    batchSize: 1024,
  }) as AsyncIterable<Batch>) {
    const take = limit === undefined ? b.size : Math.min(b.size, limit - rows);
    xs.push(b.inputs.slice(0, take * b.maxLen));
    ys.push(b.targets.slice(0, take));
    rows += take;
    if (limit !== undefined && rows >= limit) break;
  }
  const join = (parts: Int32Array[]) =>
    Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
  writeFileSync(path.join(dir, `${name}_x.bin`), join(xs));
  writeFileSync(path.join(dir, `${name}_y.bin`), join(ys));
}

if (!values["no-torch"]) {
  const python = findTorchPython("torch, numpy");

  if (!python) {
    console.log("  PyTorch: absent (python3 -c 'import torch, numpy' fails): skipped");
  } else {
    await exportSplit("train", "train");
    await exportSplit("validation", "valid", 10_000);
    const script = path.join(dir, "torch_to_hr.py");
    writeFileSync(script, TORCH_SCRIPT);
    for (const lr of [0.001, 0.01]) {
      const out = execFileSync(
        python,
        [script, dir, String(vocabulary.size), "20", String(maxEpochs), String(target), String(lr)],
        { encoding: "utf8", timeout: 3_600_000 },
      );
      const torch = JSON.parse(out.trim().split("\n").at(-1) as string) as {
        history: { epoch: number; hr20: number; seconds: number }[];
        threads: number;
        version: string;
      };
      const history = torch.history.map((h, i) => ({
        validationHr20: h.hr20,
        seconds: h.seconds - (torch.history[i - 1]?.seconds ?? 0),
      }));
      const outcome = reached(
        `torch ${torch.version} (${torch.threads} threads), full softmax, Adam ${lr}`,
        history,
      );
      print(outcome);
      const fastest = outcomes
        .filter((o) => o.seconds !== null)
        .sort((a, b) => (a.seconds as number) - (b.seconds as number))[0];
      if (fastest && outcome.seconds !== null) {
        console.log(
          `    ratio time-to-HR torch / fastest tfjs (${fastest.label}): ${(outcome.seconds / (fastest.seconds as number)).toFixed(2)}`,
        );
      }
    }
  }
}
await warehouse.close();
rmSync(dir, { recursive: true, force: true });
