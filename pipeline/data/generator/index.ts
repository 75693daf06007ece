/**
 * The seeded synthetic generator: writes the three challenge files in the exact Coveo format,
 * the generating process (generative-model.json) and the oracle's top-20 for the last item of
 * every evaluable process-session (oracle_topk.csv), which the evaluation reads as its ceiling.
 * In that file `position` is the 1-based position of the target in its session's item sequence
 * (= the sequence length, the target being the last item), and `target_rank` its 1-based rank in
 * the top-20, empty when it is not there (so SQL reads NULL and MRR sums skip it).
 *
 * Sessions are drawn and written one at a time (each from its own random streams), so memory
 * holds only the catalog, the model and a few output chunks, whatever the session count.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { InputError } from "../../errors.ts";
import { Oracle } from "../oracle.ts";
import { DATA_FILES } from "../schema.ts";
import { buildWorld, catalogRows, MIN_SKUS, STREAM } from "./catalog.ts";
import { Decorator } from "./decorate.ts";
import { jsonNumberListField, jsonStringListField, probabilityText } from "./format.ts";
import { stableHash } from "./hashes.ts";
import { Rng, seedWords } from "../../prng.ts";
import { planSession, ProcessSampler } from "./process.ts";
import { ChunkedWriter } from "./writer.ts";

export interface GenerateOptions {
  outDir: string;
  sessions: number;
  skus: number;
  seed: number;
  onProgress?: (sessionsDone: number) => void;
}

export interface GenerateResult {
  outDir: string;
  files: { browsing: string; search: string; catalog: string; model: string; oracle: string };
  counts: {
    sessions: number;
    browsingRows: number;
    searchRows: number;
    catalogRows: number;
    productEvents: number;
    pageviews: number;
    processSessions: number;
    evaluableSessions: number;
  };
  seconds: number;
}

export const GENERATOR_DEFAULTS = { sessions: 100_000, skus: 10_000, seed: 42 };

export const MODEL_FILE = "generative-model.json";
export const ORACLE_FILE = "oracle_topk.csv";
export const ORACLE_K = 20;
export const ORACLE_COLUMNS = [
  "session_id_hash",
  "session_start_ms",
  "position",
  "target_sku",
  "target_probability",
  "target_rank",
  "topk_skus",
  "topk_probabilities",
] as const;

const PROGRESS_EVERY = 5_000;

function checkOptions(options: GenerateOptions): void {
  const { sessions, skus, seed } = options;
  if (!Number.isSafeInteger(sessions) || sessions < 1) {
    throw new InputError(`sessions must be a positive integer, got ${sessions}`, {
      field: "sessions",
    });
  }
  if (!Number.isSafeInteger(skus) || skus < MIN_SKUS) {
    throw new InputError(`skus must be an integer of at least ${MIN_SKUS}, got ${skus}`, {
      field: "skus",
    });
  }
  if (!Number.isSafeInteger(seed)) {
    throw new InputError(`seed must be an integer, got ${seed}`, { field: "seed" });
  }
}

export async function generate(options: GenerateOptions): Promise<GenerateResult> {
  checkOptions(options);
  const started = performance.now();
  const { sessions, skus, seed } = options;
  const outDir = resolve(options.outDir);
  await mkdir(outDir, { recursive: true });
  const files = {
    browsing: join(outDir, DATA_FILES.browsing.file),
    search: join(outDir, DATA_FILES.search.file),
    catalog: join(outDir, DATA_FILES.catalog.file),
    model: join(outDir, MODEL_FILE),
    oracle: join(outDir, ORACLE_FILE),
  };

  const world = buildWorld(seed, skus);
  const oracle = new Oracle(world.model);
  const sampler = new ProcessSampler(world.model);
  const decorator = new Decorator(world);
  const [lo, hi] = seedWords(seed);
  const counts = {
    sessions,
    browsingRows: 0,
    searchRows: 0,
    catalogRows: 0,
    productEvents: 0,
    pageviews: 0,
    processSessions: 0,
    evaluableSessions: 0,
  };

  const writers = {
    browsing: new ChunkedWriter(files.browsing),
    search: new ChunkedWriter(files.search),
    catalog: new ChunkedWriter(files.catalog),
    oracle: new ChunkedWriter(files.oracle),
  };
  try {
    await writers.browsing.write(`${DATA_FILES.browsing.columns.join(",")}\n`);
    await writers.search.write(`${DATA_FILES.search.columns.join(",")}\n`);
    await writers.catalog.write(`${DATA_FILES.catalog.columns.join(",")}\n`);
    await writers.oracle.write(`${ORACLE_COLUMNS.join(",")}\n`);
    for (const row of catalogRows(world)) {
      await writers.catalog.write(row);
      counts.catalogRows++;
    }
    await writers.catalog.close();

    for (let index = 0; index < sessions; index++) {
      const sid = stableHash(seed, "session", index);
      const plan = planSession(sampler, seed, index);
      const decorated = decorator.decorate(plan, sid, Rng.from(lo, hi, STREAM.decorate, index));
      await writers.browsing.write(decorated.browsing);
      await writers.search.write(decorated.search);
      counts.browsingRows += decorated.browsingRows;
      counts.searchRows += decorated.searchRows;
      counts.productEvents += decorated.productEvents;
      counts.pageviews += decorated.pageviews;
      counts.processSessions += plan.blocks.length;

      let oracleRows = "";
      plan.blocks.forEach((block, b) => {
        const n = block.items.length;
        if (n < 2) return;
        counts.evaluableSessions++;
        const target = block.items[n - 1] as number;
        const prediction = oracle.predict(block.items.slice(0, n - 1));
        const top = prediction.topK(ORACLE_K);
        const rank = top.findIndex((entry) => entry.item === target) + 1;
        oracleRows +=
          `${sid},${decorated.blockStarts[b]},${n},${oracle.skuOf(target)},` +
          `${probabilityText(prediction.probability(target))},${rank > 0 ? rank : ""},` +
          `${jsonStringListField(top.map((entry) => oracle.skuOf(entry.item)))},` +
          `${jsonNumberListField(top.map((entry) => probabilityText(entry.p)))}\n`;
      });
      await writers.oracle.write(oracleRows);

      if (options.onProgress && ((index + 1) % PROGRESS_EVERY === 0 || index + 1 === sessions)) {
        options.onProgress(index + 1);
      }
    }
    await Promise.all([writers.browsing.close(), writers.search.close(), writers.oracle.close()]);
  } catch (error) {
    for (const writer of Object.values(writers)) writer.destroy();
    throw error;
  }
  await writeFile(files.model, `${JSON.stringify(world.model)}\n`);

  return { outDir, files, counts, seconds: (performance.now() - started) / 1000 };
}
