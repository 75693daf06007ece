/**
 * The model card's data from a run's stage records in the run store: what each stage recorded
 * (upload counts, the dbt DAG, the training history, the evaluation report and gate verdicts)
 * mapped onto `CardData`. Only the run id is required, so a run that stopped early (a failed
 * stage) still gets a card that says how far it got.
 */
import { getPath, type Config, type SettingSource } from "../pipeline/config/config.ts";
import { SETTINGS } from "../pipeline/config/settings.ts";
import { shownValue } from "../pipeline/config/shown-settings.ts";
import { ABLATION } from "../pipeline/evaluate/recommender.ts";
import type { EvaluateResult } from "../pipeline/evaluate/stage.ts";
import type { GateCheck } from "../pipeline/evaluate/gates.ts";
import type { Figure } from "../pipeline/evaluate/metrics.ts";
import type { DriftReport } from "../pipeline/monitor/drift.ts";
import {
  readStageResult,
  STAGE_NAMES,
  type StageName,
  type StageResultRecord,
} from "../pipeline/run/results.ts";
import { promotionHistory } from "../pipeline/store/registry.ts";
import { runFolder } from "../pipeline/store/runs.ts";
import type { ArtifactStore } from "../pipeline/store/store.ts";
import type { TrainResult } from "../pipeline/train/train.ts";
import type {
  DriftFacts,
  CandidateFacts,
  CardData,
  CheckResult,
  ConfigChange,
  HistoryPoint,
  HitFigures,
  Estimate,
  MetricsRow,
  RobustnessResult,
  SliceResult,
} from "./card-data.ts";

/** The records a run has so far, by stage (undefined: the stage has not run). */
type RunRecords = { [S in StageName]: StageResultRecord<S> | undefined };

async function readRunRecords(store: ArtifactStore, runId: string): Promise<RunRecords> {
  const [upload, transform, train, evaluate, card, promote] = await Promise.all([
    readStageResult(store, runId, "upload"),
    readStageResult(store, runId, "transform"),
    readStageResult(store, runId, "train"),
    readStageResult(store, runId, "evaluate"),
    readStageResult(store, runId, "card"),
    readStageResult(store, runId, "promote"),
  ]);
  return { upload, transform, train, evaluate, card, promote };
}

/** Settings that differ from the defaults, with where each came from when known. */
export function configChanges(
  config: Config,
  sources: Record<string, SettingSource> = {},
): ConfigChange[] {
  const changes: ConfigChange[] = [];
  for (const spec of SETTINGS) {
    const value = getPath(config, spec.key);
    const fallback = spec.default;
    if (value === undefined || value === fallback) continue;
    // The card is a public comment: say that an ARN or a bucket is set, never which.
    changes.push({
      key: spec.key,
      value: shownValue(spec, value) ?? null,
      default: spec.sensitive
        ? fallback === undefined
          ? "(not set)"
          : "(default)"
        : (shownValue(spec, fallback) ?? null),
      origin: sources[spec.key] ?? "config",
    });
  }
  return changes;
}

/** One gate check as the card (and the evaluate action's summary) shows it. */
export function checkResult(check: GateCheck): CheckResult {
  return {
    name: check.name,
    kind: check.kind,
    metric: check.metric,
    ...optional("threshold", check.threshold ?? undefined),
    ...optional("value", check.value ?? undefined),
    verdict: check.verdict,
    blocking: check.blocking,
    detail: check.detail,
  };
}

function estimate(f: Figure | undefined): Estimate | undefined {
  if (!f || f.value === null) return undefined;
  return { value: f.value, n: f.n, ...(f.ci ? { low: f.ci.low, high: f.ci.high } : {}) };
}

function metricsRows(result: EvaluateResult): MetricsRow[] {
  return result.report.recommenders.map((r) => ({
    name: r.name,
    kind: r.name === result.report.roles.production ? "production" : r.kind,
    ...optional("hr10", estimate(r.metrics["hr@10"])),
    ...optional("hr20", estimate(r.metrics["hr@20"])),
    ...optional("mrr10", estimate(r.metrics["mrr@10"])),
    ...optional("mrr20", estimate(r.metrics["mrr@20"])),
    ...optional("coverage20", r.metrics["coverage@20"].value ?? undefined),
    ...optional("popularityBias", r.metrics.popularity_bias.value ?? undefined),
    ...optional("repeatShare", r.metrics.repeat_share.value ?? undefined),
  }));
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

function candidateSlices(result: EvaluateResult): SliceResult[] {
  const candidate = result.report.recommenders.find(
    (r) => r.name === result.report.roles.candidate,
  );
  return (candidate?.slices ?? [])
    .filter((s) => s.hr20 !== null)
    .map((s) => ({
      recommender: candidate?.name,
      dimension: s.family,
      bucket: s.slice,
      n: s.n,
      hr20: s.hr20 as number,
    }));
}

function robustness(result: EvaluateResult): RobustnessResult[] {
  const candidate = result.report.recommenders.find(
    (r) => r.name === result.report.roles.candidate,
  );
  if (!candidate) return [];
  const rows: [string, keyof typeof candidate.metrics, string][] = [
    ["perturbation (one item → same category)", "perturbation_overlap", "top-20 overlap"],
    ["shuffled prefix order", "shuffle_overlap", "top-20 overlap"],
    ["sessions of unknown SKUs", "unknown_sku_validity", "valid lists"],
  ];
  return rows.flatMap(([name, metric, label]) => {
    const value = candidate.metrics[metric].value;
    return value === null ? [] : [{ name, metric: label, clean: 1, perturbed: value }];
  });
}

/** What the candidate is made of, from the train record; what its network adds, from the evaluation. */
function candidateFacts(
  train: TrainResult,
  evaluation: EvaluateResult | undefined,
): CandidateFacts {
  const { model, blend } = train;
  const figures = (m: { hr: number; mrr: number }): HitFigures => ({ hr20: m.hr, mrr20: m.mrr });
  const candidate = evaluation?.report.roles.candidate;
  const networkAdds = (evaluation?.report.comparisons ?? [])
    .filter((c) => c.candidate === candidate && c.reference === ABLATION && c.difference !== null)
    .map((c) => ({
      metric: c.metric,
      difference: c.difference as number,
      ...(c.ci ? { low: c.ci.low, high: c.ci.high } : {}),
    }));
  return {
    name: train.preset,
    network: `${model.cell.toUpperCase()}(${model.hiddenUnits})${model.layers > 1 ? ` × ${model.layers} layers` : ""} with ${model.tied ? "tied embeddings" : "a separate output layer"}`,
    blend: blend.spec.components,
    validation: {
      prefixes: blend.validation.candidate.cases,
      candidate: figures(blend.validation.candidate),
      network: figures(blend.validation.network),
      ...(blend.validation.ablation ? { withoutNetwork: figures(blend.validation.ablation) } : {}),
    },
    ...(networkAdds.length ? { networkAdds } : {}),
  };
}

/** A drift report, reduced to what the card (and `pipeline drift`'s summary) shows. */
export function driftFacts(d: DriftReport): DriftFacts {
  const hr = d.replay.hr20;
  return {
    servedSessions: d.servedSessions,
    servedEvents: d.servedEvents,
    unknownSkuRate: d.unknownSkuRate,
    outOfVocabularyShare: d.outOfVocabularyShare,
    popularityPsi: d.popularity.psi,
    popularityJs: d.popularity.jensenShannon,
    sessionLengthTraining: d.sessionLength.trainingMean,
    sessionLengthServed: d.sessionLength.servedMean,
    sessionLengthPsi: d.sessionLength.psi,
    ...(hr.value !== null
      ? {
          replayHr20: {
            value: hr.value,
            n: hr.n,
            ...(hr.ci ? { low: hr.ci.low, high: hr.ci.high } : {}),
          },
        }
      : {}),
    replayPrefixes: d.replay.prefixes,
  };
}

/** Production models drawn in the history chart: a few, so the candidate's bar stays readable. */
const HISTORY_POINTS = 8;

/**
 * The last production models' HR@20 from the registry, oldest first, then this run's candidate;
 * undefined when nothing was ever in production. Each figure is from its own run's evaluation.
 */
async function productionHistory(
  store: ArtifactStore,
  runId: string,
  evaluation: EvaluateResult | undefined,
): Promise<HistoryPoint[] | undefined> {
  // A card rendered again after this run was promoted shows it once, as the candidate.
  const entries = (await promotionHistory(store))
    .filter((e) => e.runId !== runId)
    .slice(-HISTORY_POINTS);
  if (entries.length === 0) return undefined;
  const candidate = evaluation?.report.recommenders.find(
    (r) => r.name === evaluation.report.roles.candidate,
  );
  const hr20 = estimate(candidate?.metrics["hr@20"]);
  return [
    ...entries.map((e): HistoryPoint => ({
      runId: e.runId,
      kind: "production",
      promotedAt: e.promotedAt,
      hr20: {
        value: e.metrics.hr20.value,
        low: e.metrics.hr20.lower,
        high: e.metrics.hr20.upper,
        n: e.metrics.examples,
      },
    })),
    ...(hr20 ? [{ runId, kind: "candidate" as const, hr20 }] : []),
  ];
}

/** Builds the card from whatever stage records the run has. */
export async function cardDataFromRun(
  store: ArtifactStore,
  runId: string,
  options: {
    config?: Config;
    sources?: Record<string, SettingSource>;
    /** The store is a folder that will not outlive this workflow (a CI runner's). */
    ephemeralStore?: boolean;
  } = {},
): Promise<CardData> {
  const byStage = await readRunRecords(store, runId);
  const records = STAGE_NAMES.flatMap((stage) => byStage[stage] ?? []);
  const upload = byStage.upload?.result ?? undefined;
  const transform = byStage.transform?.result ?? undefined;
  const train = byStage.train?.result ?? undefined;
  const evaluation = byStage.evaluate?.result ?? undefined;
  const first = [...records].sort((a, b) => a.startedAt.localeCompare(b.startedAt))[0];
  const failed = records.find((r) => r.status === "failed");

  const data: CardData = {
    run: {
      runId,
      ...optional("gitSha", first?.gitSha),
      ...optional("startedAt", first?.startedAt),
      ...optional("backend", train?.backend.name),
      ...optional("compute", train?.compute),
      store: store.location,
      stages: records.map((r) => ({
        name: r.stage,
        seconds: r.seconds,
        // A memoized stage that did not run says whose outputs it carries.
        status: r.reused ? `reused from run ${r.reused.runId}` : r.status,
      })),
      ...optional("failedStage", failed?.stage),
      ...(options.config ? { configDiff: configChanges(options.config, options.sources) } : {}),
      artifacts: [
        ...(train ? [{ name: "model", href: `${store.location}/${train.artifact.prefix}/` }] : []),
        ...(evaluation
          ? [
              {
                name: "evaluation report",
                href: `${store.location}/${evaluation.artifacts.report}`,
              },
            ]
          : []),
        { name: "stage records", href: `${store.location}/${runFolder(runId)}` },
      ],
    },
  };
  if (evaluation) {
    data.verdict = {
      passed: evaluation.gates.passed,
      checks: evaluation.gates.checks.map(checkResult),
    };
    data.metrics = metricsRows(evaluation);
    data.slices = candidateSlices(evaluation);
    data.robustness = robustness(evaluation);
    if (evaluation.drift) data.drift = driftFacts(evaluation.drift);
  }
  if (train) data.candidate = candidateFacts(train, evaluation);
  const history = await productionHistory(store, runId, evaluation);
  if (history) data.history = history;
  if (train) {
    data.training = {
      epochs: train.history.epochs,
      bestEpoch: train.history.bestEpoch,
      stoppedEarly: train.history.stoppedEarly,
      backend: train.backend.name,
      compute: train.compute,
    };
  }
  if (transform) data.dag = transform.dag;
  const notes = [
    ...(options.config?.card.note ? [options.config.card.note] : []),
    ...(options.ephemeralStore
      ? [
          `The run store (${store.location}) lives only as long as this workflow: no model in production outlives it, so champion/challenger cannot work and a merge cannot promote the candidate reviewed here. Set the MLOPS_S3_STORE repository variable to keep runs and the registry (README, level 2).`,
        ]
      : []),
  ];
  if (notes.length > 0) data.notes = notes;
  data.data = {
    ...(upload
      ? {
          source: upload.source,
          rowsRead: upload.totals.read,
          rowsLoaded: upload.totals.loaded,
          rowsRejected: upload.totals.rejected,
          files: upload.files.map((f) => ({
            name: f.file.split("/").at(-1) ?? f.file,
            read: f.read,
            loaded: f.loaded,
            rejected: f.rejected,
          })),
        }
      : {}),
    ...(transform?.splits ? { sessionsPerSplit: transform.splits } : {}),
    ...(train
      ? {
          vocabularySize: train.dataset.vocabularySize,
          unseenSkuShare: train.dataset.splits.test.unknownTargetShare,
        }
      : {}),
  };
  return data;
}
