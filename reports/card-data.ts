/**
 * The single input of every model-card renderer (markdown for the PR comment and job summary,
 * HTML for the report). The card stage builds it from the stage results recorded in the run
 * store. Everything but the run id is optional, so a run that failed half-way still gets a card
 * that says what it knows and which stage it stopped at.
 */
import type { EpochRecord } from "../pipeline/model/artifact.ts";
import type { TransformDag } from "../pipeline/transform/dag.ts";

export type { DagNode, TransformDag } from "../pipeline/transform/dag.ts";

/** How one check went; `skipped` when its inputs were missing (e.g. no production model yet). */
export type CheckVerdict = "pass" | "fail" | "warn" | "skipped";

/** One gate or behavioral check (RecList-style) of the evaluation stage. */
export interface CheckResult {
  name: string;
  /** What sort of check: "gate", "behavioral", "champion-challenger", "slice", "robustness" … */
  kind: string;
  /** The metric compared, e.g. "hr@20". */
  metric?: string;
  /** The bound the value is compared with, as configured (e.g. 0.05 or ">= production - 0.01"). */
  threshold?: number | string;
  value?: number | string;
  verdict: CheckVerdict;
  /** A failing blocking check fails the gate; a non-blocking one only warns. */
  blocking: boolean;
  detail?: string;
}

export interface VerdictData {
  /** Whether every blocking check passed. */
  passed: boolean;
  checks: CheckResult[];
}

/** A metric's point estimate with its confidence interval over `n` evaluation examples. */
export interface Estimate {
  value: number;
  low?: number;
  high?: number;
  n?: number;
}

/**
 * model: the candidate trained by this run; ablation: the candidate without its network;
 * production: the model being served now; baseline: popularity, co-occurrence, SKNN, their
 * blend …; oracle: the best achievable on the synthetic data.
 */
export type RecommenderRole = "model" | "ablation" | "production" | "baseline" | "oracle";

export interface MetricsRow {
  name: string;
  kind: RecommenderRole;
  hr10?: Estimate;
  hr20?: Estimate;
  mrr10?: Estimate;
  mrr20?: Estimate;
  /** Share of the catalogue that appears in some top-20 list, 0..1. */
  coverage20?: number;
  /** Mean popularity percentile of recommended SKUs, 0..1 (higher: more head-heavy). */
  popularityBias?: number;
  /** Share of recommendations that repeat a SKU already in the session, 0..1. */
  repeatShare?: number;
}

/** One training epoch; `EpochRecord` from the trainer fits as is. */
export type TrainingEpoch = Pick<EpochRecord, "epoch" | "loss" | "validationHr20"> &
  Partial<Pick<EpochRecord, "seconds" | "sequencesPerSecond" | "validationExamples">>;

export interface TrainingData {
  epochs: TrainingEpoch[];
  /** The epoch whose weights were kept. */
  bestEpoch?: number;
  stoppedEarly?: boolean;
  /** The tfjs backend that ran: node-gpu, node, wasm or cpu. */
  backend?: string;
  /** Where training ran: local or batch. */
  compute?: string;
}

/** Hit rate of one recommender (the candidate when `recommender` is absent) on one slice. */
export interface SliceResult {
  recommender?: string;
  /** What the slice cuts on: "session length", "popularity", "category" … */
  dimension: string;
  bucket: string;
  /** Evaluation examples in the slice. */
  n: number;
  hr20: number;
}

/** The candidate's metric on clean input and under one perturbation of the sessions. */
export interface RobustnessResult {
  name: string;
  metric: string;
  clean: number;
  perturbed: number;
  verdict?: CheckVerdict;
  detail?: string;
}

/** HR@20 and MRR@20 of one recommender on some prefixes. */
export interface HitFigures {
  hr20: number;
  mrr20: number;
}

/** candidate − another recommender on the same test prefixes, with its paired interval. */
export interface PairedDifference {
  metric: string;
  difference: number;
  low?: number;
  high?: number;
}

/** What the candidate is made of, and what each part earns. */
export interface CandidateFacts {
  /** The name it goes by in the metrics (its preset). */
  name: string;
  /** The network, e.g. "GRU(64), tied embeddings". */
  network: string;
  /** The blend's components and their weights (fitted on validation). */
  blend: { kind: string; weight: number }[];
  /** On the validation prefixes the weights were fitted on. */
  validation?: {
    prefixes: number;
    candidate: HitFigures;
    network: HitFigures;
    withoutNetwork?: HitFigures;
  };
  /** The candidate against its ablation (no network) on the test split. */
  networkAdds?: PairedDifference[];
}

export interface DataFacts {
  /** Where the raw data came from: synthetic, csv or download. */
  source?: string;
  rowsRead?: number;
  rowsLoaded?: number;
  rowsRejected?: number;
  /** Per raw file, when known. */
  files?: { name: string; read?: number; loaded?: number; rejected?: number }[];
  /** Sessions in each split after dbt, e.g. { train: 8000, validation: 1000, test: 1000 }. */
  sessionsPerSplit?: Record<string, number>;
  vocabularySize?: number;
  /** Share of test-split SKU occurrences the model never saw in training, 0..1. */
  unseenSkuShare?: number;
}

export interface StageTiming {
  name: string;
  seconds?: number;
  /** succeeded, failed, or "reused from run <id>" (same data, code and settings) */
  status?: string;
}

/** A setting that differs from its default, and which layer set it. */
export interface ConfigChange {
  key: string;
  value: string | number | boolean | null;
  default: string | number | boolean | null;
  /** file, env or cli. */
  origin: string;
}

export interface ArtifactLink {
  name: string;
  /** A URL, or a store location such as `s3://bucket/runs/<id>/train/model.json`. */
  href: string;
}

export interface RunFacts {
  runId: string;
  gitSha?: string;
  /** ISO timestamp the run started. */
  startedAt?: string;
  backend?: string;
  compute?: string;
  /** Where the run store is: a folder or s3://bucket/prefix. */
  store?: string;
  stages?: StageTiming[];
  /** The stage the run stopped at, when it did not finish. */
  failedStage?: string;
  configDiff?: ConfigChange[];
  artifacts?: ArtifactLink[];
}

/** Production traffic against the training data (pipeline/monitor/drift.ts), as the card shows it. */
export interface DriftFacts {
  servedSessions: number;
  servedEvents: number;
  unknownSkuRate: number;
  outOfVocabularyShare: number;
  popularityPsi: number;
  popularityJs: number;
  sessionLengthTraining: number;
  sessionLengthServed: number;
  sessionLengthPsi: number;
  /** The candidate's HR@20 on served sessions whose next item is known. */
  replayHr20?: Estimate;
  replayPrefixes: number;
}

/** One model's HR@20 in the history chart: a past production model, or this run's candidate. */
export interface HistoryPoint {
  runId: string;
  /** "candidate": this run's model, not (yet) in production. */
  kind: "production" | "candidate";
  /** When it went into production; absent for the candidate. */
  promotedAt?: string;
  hr20: Estimate;
}

export interface CardData {
  run: RunFacts;
  /** Lines shown above everything else: why this run exists, what cannot work here. */
  notes?: string[];
  verdict?: VerdictData;
  metrics?: MetricsRow[];
  training?: TrainingData;
  candidate?: CandidateFacts;
  /** The transform stage's DAG (sources, models and tests with their results). */
  dag?: TransformDag;
  slices?: SliceResult[];
  robustness?: RobustnessResult[];
  data?: DataFacts;
  /** The last production models' HR@20, oldest first, then the candidate's; absent: none yet. */
  history?: HistoryPoint[];
  /** Present when the warehouse holds production traffic. */
  drift?: DriftFacts;
}
