/**
 * The evaluation stage: reads the test split, the catalog and the baseline tables from the
 * warehouse, builds the baselines, the oracle (synthetic data) and the production model (when the
 * registry has one), evaluates them all with the run's model on the same sessions, then judges
 * the gates. Both the report and the verdicts are written to the run store.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/config.ts";
import { loadGenerativeModel, Oracle } from "../data/oracle.ts";
import { MODEL_FILE } from "../data/generator/index.ts";
import { PipelineError } from "../errors.ts";
import { readProduction } from "../store/registry.ts";
import type { Reporter } from "../reporter.ts";
import { stageKey } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import { loadModelArtifact, type ModelArtifact } from "../model/artifact.ts";
import { describeBlend } from "../model/blend.ts";
import { DEFAULT_RELATIONS, parseItems } from "../train/dataset.ts";
import { modelDirHashes, runModelDir } from "../train/fetch-artifact.ts";
import type { StageInput } from "../store/runs.ts";
import { syntheticDir } from "../upload/acquire.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { buildBaselines } from "./baselines.ts";
import { buildKnnBlend } from "./knn-blend.ts";
import { Catalog, type EvalSession } from "./catalog.ts";
import { evaluateAll, type EvaluationReport } from "./evaluate.ts";
import { evaluateGates, loadGates, type GateResult } from "./gates.ts";
import { ModelRecommender } from "./model-recommender.ts";
import { OracleRecommender } from "./oracle-recommender.ts";
import { trackOutcomes } from "./outcomes.ts";
import { ABLATION, type Recommender } from "./recommender.ts";
import { writeSmokeSessions } from "./smoke-sessions.ts";
import { measureDrift, readServedSessions, type DriftReport } from "../monitor/drift.ts";

export interface EvaluateResult {
  report: EvaluationReport;
  gates: GateResult;
  /** The run whose model is in production and was evaluated as the champion, if any. */
  productionRunId: string | null;
  /** Drift of the production traffic in the warehouse from this run's training data, if any. */
  drift?: DriftReport;
  /** The candidate's model files it judged, by sha256 (a reviewed promotion checks them). */
  modelFiles: StageInput[];
  gatesFile: string;
  /** Store keys of the report, the verdicts, the smoke-test sessions and the per-prefix outcomes. */
  artifacts: { report: string; gates: string; smokeSessions?: string; outcomes?: string };
  seconds: number;
}

export interface EvaluateInput {
  config: Config;
  runId: string;
  store: ArtifactStore;
  warehouse: Warehouse;
  reporter: Reporter;
}

/** The template's own gate file: used when the default `gates.yml` is not in the working folder. */
export const TEMPLATE_GATES_FILE = fileURLToPath(new URL("../../gates.yml", import.meta.url));

export function resolveGatesFile(path: string): string {
  return path === "gates.yml" && !existsSync(path) ? TEMPLATE_GATES_FILE : path;
}

/** The name the candidate goes by in the report: its preset, or its cell for older models. */
export function candidateName(artifact: Pick<ModelArtifact, "config">): string {
  return artifact.config.preset ?? artifact.config.net.cell;
}

/** One split's sequences, oldest session first (V-SKNN weighs neighbours by recency). */
export async function readSplit(warehouse: Warehouse, split: string): Promise<EvalSession[]> {
  const rows = await warehouse.query(
    `select q.session_key, q.items
     from ${DEFAULT_RELATIONS.sequences} as q
     inner join ${DEFAULT_RELATIONS.splits} as s on s.session_key = q.session_key
     where s.split = $1
     order by q.session_start_ms, q.session_key`,
    [split],
  );
  return rows.map((r) => {
    const key = String(r.session_key);
    return { key, items: parseItems(r.items ?? null, key) };
  });
}

export async function readCatalog(warehouse: Warehouse): Promise<Catalog> {
  const rows = await warehouse.query(
    "select sku, category_path, price_bucket, train_popularity from item_catalog",
  );
  return new Catalog(
    rows.map((r) => ({
      sku: String(r.sku),
      categoryPath: r.category_path === null ? null : String(r.category_path),
      priceBucket: r.price_bucket === null ? null : Number(r.price_bucket),
      trainPopularity: Number(r.train_popularity),
    })),
  );
}

/**
 * Drift of the production traffic the warehouse holds (dbt's served_sessions) from this run's
 * training split, with the candidate replayed on it; undefined when no traffic was loaded.
 */
async function measureServedDrift(
  input: EvaluateInput,
  data: { train: EvalSession[]; catalog: Catalog; model: Recommender },
): Promise<DriftReport | undefined> {
  const served = await readServedSessions(input.warehouse);
  if (served.length === 0) return undefined;
  const drift = await measureDrift({
    ...data,
    served,
    bootstrap: { iterations: input.config.evaluate.bootstrap, seed: input.config.evaluate.seed },
  });
  input.reporter.info(
    `drift: ${drift.servedSessions} served sessions; popularity PSI ${drift.popularity.psi.toFixed(3)}, JS ${drift.popularity.jensenShannon.toFixed(3)}; out of vocabulary ${(100 * drift.outOfVocabularyShare).toFixed(1)}%; replay HR@20 ${drift.replay.hr20.value?.toFixed(4) ?? "n/a"}`,
  );
  return drift;
}

export async function evaluateRun(input: EvaluateInput): Promise<EvaluateResult> {
  const { config, warehouse, reporter, store } = input;
  const started = performance.now();
  const gatesFile = resolveGatesFile(config.evaluate.gates);
  const gateConfig = await loadGates(gatesFile); // a bad gate file fails before any work
  const [train, validation, test, catalog] = await Promise.all([
    readSplit(warehouse, "train"),
    readSplit(warehouse, "validation"),
    readSplit(warehouse, "test"),
    readCatalog(warehouse),
  ]);
  if (test.length === 0) {
    throw new PipelineError(
      "the test split is empty: nothing to evaluate",
      1,
      "run the transform stage on more sessions (or raise the test fraction)",
    );
  }
  const popularity = new Map(
    (await warehouse.query("select sku, train_popularity from baseline_popularity")).map((r) => [
      String(r.sku),
      Number(r.train_popularity),
    ]),
  );
  const transitions = (
    await warehouse.query("select sku, next_sku, transitions from baseline_next_item")
  ).map((r) => ({
    sku: String(r.sku),
    nextSku: String(r.next_sku),
    transitions: Number(r.transitions),
  }));

  const scratch = await mkdtemp(join(tmpdir(), "mlops-evaluate-"));
  try {
    const candidateDir = await runModelDir(store, input.runId, scratch);
    const candidate = await loadModelArtifact(candidateDir);
    const modelFiles = await modelDirHashes(candidateDir, input.runId);
    const name = candidateName(candidate);
    const recommenders: Recommender[] = [new ModelRecommender(candidate, name)];
    if (candidate.ablation) {
      // The candidate with its network removed, the rest refitted on validation: what the
      // network adds is the paired difference to this.
      recommenders.push(
        new ModelRecommender(candidate.withBlend(candidate.ablation), ABLATION, "ablation"),
      );
    }
    const production = await readProduction(store);
    const productionRunId =
      production && production.runId !== input.runId ? production.runId : null;
    if (productionRunId) {
      const champion = await loadModelArtifact(await runModelDir(store, productionRunId, scratch));
      recommenders.push(new ModelRecommender(champion, "production", "model"));
      reporter.info(`champion: the production model of run ${productionRunId}`);
    }
    recommenders.push(...buildBaselines({ train, popularity, transitions }));
    const knnBlend = buildKnnBlend(train, validation, {
      excludeLast: config.transform.collapseRepeats,
      limit: config.train.validationExamples,
    });
    reporter.info(
      `knn-blend baseline fitted on ${knnBlend.validation.cases} validation prefixes: ${describeBlend(knnBlend.spec)}`,
    );
    recommenders.push(knnBlend.recommender);
    const generative = join(syntheticDir(config), MODEL_FILE);
    if (config.data.source === "synthetic" && existsSync(generative)) {
      recommenders.push(new OracleRecommender(new Oracle(await loadGenerativeModel(generative))));
    }

    const bar = reporter.progress("evaluate", recommenders.length, "recommenders");
    let finished = 0;
    // Per-prefix outcomes of the models, for comparing runs (`pipeline runs compare`).
    const outcomes = trackOutcomes([name, "production"]);
    const report = await evaluateAll(recommenders, test, catalog, {
      seed: config.evaluate.seed,
      maxPrefixes: config.evaluate.maxPrefixes,
      bootstrapIterations: config.evaluate.bootstrap,
      onRanks: outcomes.onRanks,
      candidate: name,
      ...(productionRunId ? { production: "production" } : {}),
      onProgress: (p) => {
        if (p.phase === "robustness" && p.done === p.total) bar.update(++finished, finished);
      },
    }).finally(() => bar.stop());
    const drift = await measureServedDrift(input, {
      train,
      catalog,
      model: recommenders[0] as Recommender,
    });
    const gates = evaluateGates(gateConfig, report, {
      source: config.data.source,
      ...(drift ? { drift } : {}),
    });
    const artifacts = {
      report: stageKey(input.runId, "evaluate", "report.json"),
      gates: stageKey(input.runId, "evaluate", "gates.json"),
    };
    await store.put(artifacts.report, JSON.stringify(report, null, 2));
    await store.put(artifacts.gates, JSON.stringify(gates, null, 2));
    const smokeSessions = await writeSmokeSessions(store, input.runId, test);
    const outcomesKey = await outcomes.write(store, input.runId);
    return {
      report,
      gates,
      productionRunId,
      ...(drift ? { drift } : {}),
      modelFiles,
      gatesFile,
      artifacts: { ...artifacts, smokeSessions, ...(outcomesKey ? { outcomes: outcomesKey } : {}) },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
