/**
 * Time to a fixed validation HR@20, on the pipeline's own data (generated, uploaded and
 * transformed by the CLI into a temporary folder): this project's trainer and, where
 * `import torch` works, the same model and loss in PyTorch on the same encoded sessions, for
 *
 * - the seeds' recipe: LSTM(32), full softmax, Adam 1e-3, every prefix an example, batch 256;
 * - the default preset's network: tied GRU(64), every position of a session one loss row,
 *   batches of 512 rows, 1,024 negatives drawn from popularity^0.5 plus the batch's targets,
 *   logQ correction, Adam 5e-3, dropout 0.2 (without item features: PyTorch gets the same model).
 *
 * Both sides measure training seconds only (validation excluded) and the same validation HR@20
 * (every validation prefix whose target is in the vocabulary, the prefix's last item excluded).
 * Prints; asserts nothing.
 *
 *   npx tsx bench/train-to-hr.ts [--sessions 30000] [--skus 5000] [--target 0.2]
 *                                [--max-epochs 10] [--no-torch]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { NetConfig } from "../pipeline/model/net.ts";
import { FIRST_ITEM_ID } from "../pipeline/model/sequences.ts";
import { silentReporter } from "../pipeline/reporter.ts";
import { selectBackend } from "../pipeline/train/backend.ts";
import { countTargets } from "../pipeline/train/batches.ts";
import type { SessionBlock } from "../pipeline/model/sessions.ts";
import { buildVocabulary, loadSplit } from "../pipeline/train/dataset.ts";
import { trainModel, type TrainingOptions } from "../pipeline/train/trainer.ts";
import { DuckDbWarehouse } from "../pipeline/warehouse/duckdb.ts";
import { findTorchPython, TORCH_MODELS } from "./torch.ts";

const { values } = parseArgs({
  options: {
    sessions: { type: "string", default: "30000" },
    skus: { type: "string", default: "5000" },
    target: { type: "string", default: "0.2" },
    "max-epochs": { type: "string", default: "10" },
    "no-torch": { type: "boolean", default: false },
  },
});
const target = Number(values.target);
const maxEpochs = Number(values["max-epochs"]);
const BIN = fileURLToPath(new URL("../bin/pipeline.js", import.meta.url));
const VALIDATION_PREFIXES = 10_000;

const dir = mkdtempSync(path.join(os.tmpdir(), "train-to-hr-"));
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
const warehouse = await DuckDbWarehouse.open(path.join(dir, ".mlops", "warehouse.duckdb"));
const vocabulary = await buildVocabulary(warehouse, {});
const train = await loadSplit(warehouse, vocabulary, { split: "train" });
const validation = await loadSplit(warehouse, vocabulary, { split: "validation" });
await warehouse.close();
const counts = new Float64Array(vocabulary.size);
for (let id = FIRST_ITEM_ID; id < vocabulary.size; id++) {
  counts[id] = vocabulary.count(vocabulary.sku(id) as string);
}
const backend = await selectBackend("auto");
console.log(
  `vocabulary ${vocabulary.size} ids, ${train.offsets.length - 1} train sessions; target validation HR@20 ${target}, at most ${maxEpochs} epochs; tfjs backend ${backend.name}`,
);

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

function print(o: Outcome, reference?: Outcome): void {
  const time =
    o.seconds === null
      ? `not reached in ${o.epochs} epochs`
      : `${o.seconds.toFixed(0)} s (${o.epochs} epochs)`;
  const ratio =
    reference && reference.seconds !== null && o.seconds !== null
      ? `  PyTorch needs ×${(reference.seconds / o.seconds).toFixed(2)} the time`
      : "";
  console.log(
    `  ${o.label.padEnd(44)} ${time.padStart(26)}  ${o.seconds === null ? "best" : "then"} HR@20 ${o.best.toFixed(3)}  ${o.perEpoch.toFixed(1)} s/epoch${ratio}`,
  );
}

interface Variant {
  name: "recipe" | "default";
  label: string;
  net: Omit<NetConfig, "vocabSize">;
  options: TrainingOptions;
}

const common = {
  epochs: maxEpochs,
  negatives: 1024,
  sampleAlpha: 0.5,
  logQ: 1,
  patience: 0,
  minImprovement: 0,
  validationExamples: VALIDATION_PREFIXES,
};
const variants: Variant[] = [
  {
    name: "recipe",
    label: "seeds' recipe: LSTM(32), full softmax",
    net: { cell: "lstm", embeddingDim: 32, hiddenUnits: 32, layers: 1, tied: false, maxLen: 20 },
    options: {
      ...common,
      batchSize: 256,
      mode: "all-prefixes",
      loss: "full",
      learningRate: 1e-3,
      dropout: 0.3,
      popularityBias: false,
    },
  },
  {
    name: "default",
    label: "default: tied GRU(64), 1,024 sampled + logQ",
    net: { cell: "gru", embeddingDim: 64, hiddenUnits: 64, layers: 1, tied: true, maxLen: 20 },
    options: {
      ...common,
      batchSize: 512,
      mode: "sequence",
      loss: "sampled",
      learningRate: 5e-3,
      dropout: 0.2,
      popularityBias: true,
    },
  },
];

/** Sessions as int32 words: [count, offsets (count + 1), ids]. */
function writeSessions(file: string, block: SessionBlock): void {
  const count = block.offsets.length - 1;
  const words = new Int32Array(1 + block.offsets.length + block.ids.length);
  words[0] = count;
  words.set(block.offsets, 1);
  words.set(block.ids, 1 + block.offsets.length);
  writeFileSync(path.join(dir, file), words);
}

const python = values["no-torch"] ? undefined : findTorchPython("torch, numpy");
if (python) {
  writeSessions("train.bin", train);
  writeSessions("valid.bin", validation);
  writeFileSync(path.join(dir, "counts.bin"), Float64Array.from(counts));
  writeFileSync(path.join(dir, "torch_to_hr.py"), TORCH_MODELS);
} else if (!values["no-torch"]) {
  console.log("PyTorch: absent (python3 -c 'import torch, numpy' fails): skipped");
}

for (const variant of variants) {
  console.log(`\n${variant.label}:`);
  const result = await trainModel({
    net: { ...variant.net, vocabSize: vocabulary.size },
    seed: 42,
    train,
    validation,
    counts,
    options: variant.options,
    reporter: silentReporter(),
    trainTargets: countTargets(train, { ...variant.options, maxLen: variant.net.maxLen }),
    fingerprint: "bench",
    resume: false,
    excludeLastItem: true,
  });
  const ours = reached(`this trainer on ${backend.name}`, result.history.epochs);
  if (!python) {
    print(ours);
    continue;
  }
  const out = execFileSync(
    python,
    [
      path.join(dir, "torch_to_hr.py"),
      dir,
      variant.name,
      String(vocabulary.size),
      String(maxEpochs),
      String(target),
      String(VALIDATION_PREFIXES),
    ],
    { encoding: "utf8", timeout: 3_600_000 },
  );
  const torch = JSON.parse(out.trim().split("\n").at(-1) as string) as {
    history: { hr20: number; seconds: number }[];
    threads: number;
    version: string;
  };
  const theirs = reached(
    `PyTorch ${torch.version} CPU (${torch.threads} threads)`,
    torch.history.map((h) => ({ validationHr20: h.hr20, seconds: h.seconds })),
  );
  print(ours, theirs);
  print(theirs);
}
rmSync(dir, { recursive: true, force: true });
