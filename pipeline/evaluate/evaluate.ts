/**
 * evaluateAll: every recommender (the model, the production model, the baselines, the oracle)
 * on the same test prefixes, the same robustness inputs and the same bootstrap draws, into one
 * JSON-serializable report the gates, the CLI table and the model card read.
 *
 * A test session of n items gives n - 1 cases (prefix of t items → item t + 1); the last of them
 * is also its "last item" case. Recommenders are asked for the top 20 in batches.
 */
import { PipelineError } from "../errors.ts";
import { Rng, seedWords } from "../prng.ts";
import { bootstrapRatios, percentileInterval } from "./bootstrap.ts";
import type { Catalog, EvalSession } from "./catalog.ts";
import {
  coverage,
  figure,
  hitRate,
  MAX_K,
  meanReciprocalRank,
  METRIC_KS,
  overlap,
  popularityBias,
  rankOf,
  repeatShare,
  type Figure,
} from "./metrics.ts";
import type { Recommender, RecommenderKind } from "./recommender.ts";
import {
  invalidity,
  lessWrong,
  perturb,
  shufflePrefix,
  SLICE_FAMILIES,
  sliceLabels,
  unknownSkuSessions,
  type LessWrong,
  type SliceFamily,
} from "./suite.ts";

export const REPORT_FORMAT = "mlops-session-recs/evaluation@1";

/** Every figure a gate can name. "last_" figures use only each session's last item. */
export const METRIC_NAMES = [
  "hr@10",
  "hr@20",
  "mrr@10",
  "mrr@20",
  "last_hr@10",
  "last_hr@20",
  "last_mrr@10",
  "last_mrr@20",
  "coverage@10",
  "coverage@20",
  "popularity_bias",
  "repeat_share",
  "perturbation_overlap",
  "shuffle_overlap",
  "unknown_sku_validity",
  "less_wrong_distance",
  "less_wrong_same_leaf",
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** The figures with bootstrap intervals, hence the ones compared with the production model. */
export const INTERVAL_METRICS = ["hr@20", "mrr@20"] as const;
export type IntervalMetric = (typeof INTERVAL_METRICS)[number];

export const EVALUATE_DEFAULTS = {
  seed: 42,
  batchSize: 512,
  bootstrapIterations: 1000,
  confidence: 0.95,
  robustnessSessions: 500,
  unknownSessions: 50,
} as const;

export interface EvaluateProgress {
  recommender: string;
  phase: "accuracy" | "robustness";
  done: number;
  total: number;
}

export interface EvaluateOptions {
  /** Seeds the session sample, the perturbations and the bootstrap. */
  seed?: number;
  /** Prefixes per recommend() call. */
  batchSize?: number;
  /**
   * Evaluate a seeded random sample of whole sessions holding about this many prefixes
   * (the sample stops at the first session that would exceed it). Default: every session.
   */
  maxPrefixes?: number;
  bootstrapIterations?: number;
  /** Level of the bootstrap intervals. */
  confidence?: number;
  /** Sessions (of the evaluated ones) whose last prefix is perturbed and shuffled. */
  robustnessSessions?: number;
  /** Sessions made of unknown SKUs fed to every recommender. */
  unknownSessions?: number;
  /** The recommender the gates judge; default: the first of kind "model" that is not production. */
  candidate?: string;
  /** The model in production; default: the recommender named "production", if any. */
  production?: string;
  onProgress?: (progress: EvaluateProgress) => void;
  /** Each recommender's rank of the target on every test prefix, in the order of `prefixes`. */
  onRanks?: (
    recommender: string,
    ranks: readonly number[],
    prefixes: readonly TestPrefix[],
  ) => void;
}

/** One evaluated test prefix: its session and how many of its items it holds. */
export interface TestPrefix {
  session: EvalSession;
  /** Items in the prefix; the target is `session.items[length]`. */
  length: number;
}

export interface SliceResult {
  family: SliceFamily;
  slice: string;
  /** Prefixes in the slice. */
  n: number;
  hr20: number | null;
}

export interface RecommenderReport {
  name: string;
  kind: RecommenderKind;
  metrics: Record<MetricName, Figure>;
  /** Distinct catalog SKUs recommended, per cut-off ("10", "20"). */
  distinctRecommended: Record<string, number>;
  slices: SliceResult[];
  lessWrong: LessWrong;
  /** Robustness cases left out: no same-category alternative, nothing to shuffle. */
  robustnessSkipped: { perturbation: number; shuffle: number };
  /** The first few reasons unknown-SKU lists were invalid. */
  unknownSkuFailures: string[];
  /** Wall time of this recommender's accuracy and robustness calls. */
  seconds: number;
}

/** candidate − reference on the same bootstrap draws (a paired interval). */
export interface Comparison {
  candidate: string;
  reference: string;
  metric: IntervalMetric;
  difference: number | null;
  ci?: { low: number; high: number; level: number };
}

export interface EvaluationReport {
  format: typeof REPORT_FORMAT;
  settings: {
    seed: number;
    batchSize: number;
    maxPrefixes: number | null;
    bootstrapIterations: number;
    confidence: number;
    robustnessSessions: number;
    unknownSessions: number;
    ks: number[];
  };
  counts: {
    /** Test sessions given. */
    testSessions: number;
    /** Of those, sessions with at least two items. */
    evaluableSessions: number;
    /** Of those, the sessions evaluated (all, unless maxPrefixes sampled). */
    evaluatedSessions: number;
    prefixes: number;
    lastItems: number;
    catalogItems: number;
    trainItems: number;
    /** Robustness inputs built (the same for every recommender). */
    perturbed: number;
    shuffled: number;
    unknownSkuSessions: number;
  };
  roles: { candidate: string | null; production: string | null };
  recommenders: RecommenderReport[];
  comparisons: Comparison[];
}

/** Streams the draws of one purpose, apart from every other use of the seed. */
const STREAM = { sample: 1, perturb: 2, shuffle: 3, unknown: 4 } as const;

function positive(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${value}`);
  }
  return value;
}

function count(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${value}`);
  }
  return value;
}

interface Case {
  session: number;
  /** Items in the prefix (the target is items[length]). */
  length: number;
}

/** The sessions to evaluate: all, or a seeded sample of whole sessions up to maxPrefixes. */
function chooseSessions(sessions: readonly EvalSession[], seed: number, maxPrefixes?: number) {
  const all = sessions.map((_, s) => s);
  const total = sessions.reduce((sum, s) => sum + s.items.length - 1, 0);
  if (maxPrefixes === undefined || total <= maxPrefixes) return all;
  Rng.from(...seedWords(seed), STREAM.sample).shuffle(all);
  const chosen: number[] = [];
  let prefixes = 0;
  for (const s of all) {
    const n = (sessions[s] as EvalSession).items.length - 1;
    if (chosen.length > 0 && prefixes + n > maxPrefixes) break;
    chosen.push(s);
    prefixes += n;
  }
  return chosen.sort((a, b) => a - b);
}

async function recommendChecked(
  recommender: Recommender,
  prefixes: readonly (readonly string[])[],
): Promise<string[][]> {
  let lists: string[][];
  try {
    lists = await recommender.recommend(prefixes, MAX_K);
  } catch (error) {
    throw new PipelineError(
      `evaluation: recommender "${recommender.name}" failed on a batch of ${prefixes.length} prefixes: ${(error as Error).message}`,
    );
  }
  if (!Array.isArray(lists) || lists.length !== prefixes.length) {
    throw new PipelineError(
      `evaluation: recommender "${recommender.name}" answered ${Array.isArray(lists) ? lists.length : "no"} lists for ${prefixes.length} prefixes`,
    );
  }
  return lists.map((list) => list.slice(0, MAX_K));
}

async function recommendAll(
  recommender: Recommender,
  prefixes: readonly (readonly string[])[],
  batchSize: number,
  onBatch: (done: number) => void,
): Promise<string[][]> {
  const out: string[][] = [];
  for (let at = 0; at < prefixes.length; at += batchSize) {
    const batch = prefixes.slice(at, at + batchSize);
    out.push(...(await recommendChecked(recommender, batch)));
    onBatch(out.length);
  }
  return out;
}

function meanOf(values: readonly number[]): Figure {
  return figure(
    values.reduce((a, b) => a + b, 0),
    values.length,
  );
}

function resolveRoles(
  recommenders: readonly Recommender[],
  options: EvaluateOptions,
): EvaluationReport["roles"] {
  const names = new Set<string>();
  for (const r of recommenders) {
    if (names.has(r.name)) throw new Error(`evaluation: two recommenders are named "${r.name}"`);
    names.add(r.name);
  }
  for (const role of ["candidate", "production"] as const) {
    const name = options[role];
    if (name !== undefined && !names.has(name)) {
      throw new Error(`evaluation: the ${role} "${name}" is not among the recommenders`);
    }
  }
  const production = options.production ?? (names.has("production") ? "production" : null);
  const candidate =
    options.candidate ??
    recommenders.find((r) => r.kind === "model" && r.name !== production)?.name ??
    null;
  return { candidate, production };
}

/** The evaluation's settings: the options with their defaults, checked. */
function resolveSettings(options: EvaluateOptions): EvaluationReport["settings"] {
  const seed = options.seed ?? EVALUATE_DEFAULTS.seed;
  const batchSize = positive(options.batchSize ?? EVALUATE_DEFAULTS.batchSize, "batchSize");
  const iterations = positive(
    options.bootstrapIterations ?? EVALUATE_DEFAULTS.bootstrapIterations,
    "bootstrapIterations",
  );
  const confidence = options.confidence ?? EVALUATE_DEFAULTS.confidence;
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`confidence must be between 0 and 1, got ${confidence}`);
  }
  if (options.maxPrefixes !== undefined) positive(options.maxPrefixes, "maxPrefixes");
  return {
    seed,
    batchSize,
    maxPrefixes: options.maxPrefixes ?? null,
    bootstrapIterations: iterations,
    confidence,
    robustnessSessions: count(
      options.robustnessSessions ?? EVALUATE_DEFAULTS.robustnessSessions,
      "robustnessSessions",
    ),
    unknownSessions: count(
      options.unknownSessions ?? EVALUATE_DEFAULTS.unknownSessions,
      "unknownSessions",
    ),
    ks: [...METRIC_KS],
  };
}

/** What every recommender is asked: each prefix of each chosen session, and what came next. */
interface Cases {
  evaluable: number;
  sessions: EvalSession[];
  cases: Case[];
  /** Each session's last case. */
  lastCase: number[];
  sliceOf: Record<SliceFamily, string>[];
  prefixes: string[][];
  targets: string[];
}

function buildCases(
  testSessions: readonly EvalSession[],
  catalog: Catalog,
  settings: EvaluationReport["settings"],
): Cases {
  const evaluable = testSessions.filter((s) => s.items.length >= 2);
  const sessions = chooseSessions(evaluable, settings.seed, settings.maxPrefixes ?? undefined).map(
    (s) => evaluable[s] as EvalSession,
  );
  const cases: Case[] = [];
  const lastCase: number[] = [];
  const sliceOf: Record<SliceFamily, string>[] = [];
  sessions.forEach((session, s) => {
    for (let length = 1; length < session.items.length; length++) {
      cases.push({ session: s, length });
      sliceOf.push(
        sliceLabels(
          session.items.slice(0, length),
          session.items[length] as string,
          session.items.length,
          catalog,
        ),
      );
    }
    lastCase.push(cases.length - 1);
  });
  const prefixes = cases.map((c) => (sessions[c.session] as EvalSession).items.slice(0, c.length));
  const targets = cases.map((c) => (sessions[c.session] as EvalSession).items[c.length] as string);
  return { evaluable: evaluable.length, sessions, cases, lastCase, sliceOf, prefixes, targets };
}

/** The robustness inputs: built once, so every recommender faces the same ones. */
interface RobustnessInputs {
  sample: number[];
  perturbed: { base: number; prefix: string[] }[];
  shuffled: { base: number; prefix: string[] }[];
  unknown: string[][];
}

function buildRobustnessInputs(
  cases: Cases,
  catalog: Catalog,
  settings: EvaluationReport["settings"],
): RobustnessInputs {
  const [lo, hi] = seedWords(settings.seed);
  const robustRng = Rng.from(lo, hi, STREAM.perturb);
  const sample = robustRng
    .shuffle(cases.lastCase.slice())
    .slice(0, settings.robustnessSessions)
    .sort((a, b) => a - b);
  const perturbed: RobustnessInputs["perturbed"] = [];
  const shuffled: RobustnessInputs["shuffled"] = [];
  const shuffleRng = Rng.from(lo, hi, STREAM.shuffle);
  for (const c of sample) {
    const p = perturb(cases.prefixes[c] as string[], catalog, robustRng);
    if (p) perturbed.push({ base: c, prefix: p });
    const q = shufflePrefix(cases.prefixes[c] as string[], shuffleRng);
    if (q) shuffled.push({ base: c, prefix: q });
  }
  const unknown = unknownSkuSessions(
    settings.unknownSessions,
    catalog,
    Rng.from(lo, hi, STREAM.unknown),
  );
  return { sample, perturbed, shuffled, unknown };
}

/** One recommender through every case and robustness input: its report and per-session tallies. */
async function evaluateRecommender(
  recommender: Recommender,
  cases: Cases,
  robustness: RobustnessInputs,
  catalog: Catalog,
  settings: EvaluationReport["settings"],
  onProgress: EvaluateOptions["onProgress"],
): Promise<{
  report: RecommenderReport;
  hits: Float64Array;
  rr: Float64Array;
  ranks: number[];
}> {
  const started = performance.now();
  const { prefixes, targets, lastCase } = cases;
  const { perturbed, shuffled, unknown } = robustness;
  const progress = (phase: EvaluateProgress["phase"], total: number) => (done: number) =>
    onProgress?.({ recommender: recommender.name, phase, done, total });
  const lists = await recommendAll(
    recommender,
    prefixes,
    settings.batchSize,
    progress("accuracy", prefixes.length),
  );
  const ranks = lists.map((list, c) => rankOf(list, targets[c] as string, MAX_K));
  const lastRanks = lastCase.map((c) => ranks[c] as number);

  const hits = new Float64Array(cases.sessions.length);
  const rr = new Float64Array(cases.sessions.length);
  cases.cases.forEach((c, i) => {
    const r = ranks[i] as number;
    if (r > 0) {
      hits[c.session] = (hits[c.session] as number) + 1;
      rr[c.session] = (rr[c.session] as number) + 1 / r;
    }
  });

  const robustTotal = perturbed.length + shuffled.length + unknown.length;
  const robustProgress = progress("robustness", robustTotal);
  const perturbedLists = await recommendAll(
    recommender,
    perturbed.map((p) => p.prefix),
    settings.batchSize,
    robustProgress,
  );
  const shuffledLists = await recommendAll(
    recommender,
    shuffled.map((p) => p.prefix),
    settings.batchSize,
    (done) => robustProgress(perturbed.length + done),
  );
  const unknownFailures: string[] = [];
  let unknownValid = 0;
  try {
    const unknownLists = unknown.length ? await recommendChecked(recommender, unknown) : [];
    unknownLists.forEach((list, i) => {
      const why = invalidity(list, unknown[i] as string[], MAX_K, catalog);
      if (why === null) unknownValid++;
      else unknownFailures.push(why);
    });
  } catch (error) {
    unknownFailures.push((error as Error).message);
  }
  robustProgress(robustTotal);

  const metrics = {} as Record<MetricName, Figure>;
  const distinctRecommended: Record<string, number> = {};
  for (const k of METRIC_KS) {
    metrics[`hr@${k}`] = hitRate(ranks, k);
    metrics[`mrr@${k}`] = meanReciprocalRank(ranks, k);
    metrics[`last_hr@${k}`] = hitRate(lastRanks, k);
    metrics[`last_mrr@${k}`] = meanReciprocalRank(lastRanks, k);
    const { distinct, ...cover } = coverage(lists, k, catalog);
    metrics[`coverage@${k}`] = cover;
    distinctRecommended[k] = distinct;
  }
  metrics.popularity_bias = popularityBias(lists, MAX_K, catalog);
  metrics.repeat_share = repeatShare(prefixes, lists, MAX_K);
  metrics.perturbation_overlap = meanOf(
    perturbed.map((p, i) =>
      overlap(lists[p.base] as string[], perturbedLists[i] as string[], MAX_K),
    ),
  );
  metrics.shuffle_overlap = meanOf(
    shuffled.map((p, i) => overlap(lists[p.base] as string[], shuffledLists[i] as string[], MAX_K)),
  );
  metrics.unknown_sku_validity = figure(unknownValid, unknown.length);
  const wrong = lessWrong(
    lists.map((list) => list[0]),
    targets,
    catalog,
  );
  metrics.less_wrong_distance = { value: wrong.meanDistance, n: wrong.n };
  metrics.less_wrong_same_leaf = { value: wrong.sameLeafShare, n: wrong.n };

  const report: RecommenderReport = {
    name: recommender.name,
    kind: recommender.kind,
    metrics,
    distinctRecommended,
    slices: sliceResults(ranks, cases.sliceOf),
    lessWrong: wrong,
    robustnessSkipped: {
      perturbation: robustness.sample.length - perturbed.length,
      shuffle: robustness.sample.length - shuffled.length,
    },
    unknownSkuFailures: unknownFailures.slice(0, 5),
    seconds: (performance.now() - started) / 1000,
  };
  return { report, hits, rr, ranks };
}

/**
 * Every recommender on the same test prefixes, robustness inputs and bootstrap resamples: the
 * settings, the cases, the robustness inputs, each recommender, then the paired intervals.
 */
export async function evaluateAll(
  recommenders: readonly Recommender[],
  testSessions: readonly EvalSession[],
  catalog: Catalog,
  options: EvaluateOptions = {},
): Promise<EvaluationReport> {
  const settings = resolveSettings(options);
  const roles = resolveRoles(recommenders, options);
  const cases = buildCases(testSessions, catalog, settings);
  const robustness = buildRobustnessInputs(cases, catalog, settings);

  const testPrefixes: TestPrefix[] = cases.cases.map((c) => ({
    session: cases.sessions[c.session] as EvalSession,
    length: c.length,
  }));
  const reports: RecommenderReport[] = [];
  const hitSeries: Float64Array[] = [];
  const rrSeries: Float64Array[] = [];
  for (const recommender of recommenders) {
    const evaluated = await evaluateRecommender(
      recommender,
      cases,
      robustness,
      catalog,
      settings,
      options.onProgress,
    );
    options.onRanks?.(recommender.name, evaluated.ranks, testPrefixes);
    reports.push(evaluated.report);
    hitSeries.push(evaluated.hits);
    rrSeries.push(evaluated.rr);
  }

  const sessionCounts = new Float64Array(cases.sessions.length);
  for (const c of cases.cases) sessionCounts[c.session] = (sessionCounts[c.session] as number) + 1;
  const comparisons = addIntervals(reports, sessionCounts, hitSeries, rrSeries, roles.candidate, {
    iterations: settings.bootstrapIterations,
    seed: settings.seed,
    confidence: settings.confidence,
  });

  return {
    format: REPORT_FORMAT,
    settings,
    counts: {
      testSessions: testSessions.length,
      evaluableSessions: cases.evaluable,
      evaluatedSessions: cases.sessions.length,
      prefixes: cases.cases.length,
      lastItems: cases.lastCase.length,
      catalogItems: catalog.size,
      trainItems: catalog.trainItems,
      perturbed: robustness.perturbed.length,
      shuffled: robustness.shuffled.length,
      unknownSkuSessions: robustness.unknown.length,
    },
    roles,
    recommenders: reports,
    comparisons,
  };
}

/** HR@20 per slice of each family, slices in natural label order ("2" before "10"). */
function sliceResults(
  ranks: readonly number[],
  sliceOf: readonly Record<SliceFamily, string>[],
): SliceResult[] {
  const out: SliceResult[] = [];
  for (const family of SLICE_FAMILIES) {
    const tally = new Map<string, { n: number; hits: number }>();
    sliceOf.forEach((labels, i) => {
      const slice = labels[family];
      const entry = tally.get(slice) ?? { n: 0, hits: 0 };
      entry.n++;
      const r = ranks[i] as number;
      if (r >= 1 && r <= MAX_K) entry.hits++;
      tally.set(slice, entry);
    });
    const labels = [...tally.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    for (const slice of labels) {
      const { n, hits } = tally.get(slice) as { n: number; hits: number };
      out.push({ family, slice, n, hr20: n > 0 ? hits / n : null });
    }
  }
  return out;
}

/**
 * Bootstrap intervals for HR@20 and MRR@20 of every recommender (written into their metrics),
 * and the paired intervals of the candidate's difference to every other recommender.
 */
function addIntervals(
  reports: RecommenderReport[],
  counts: Float64Array,
  hits: readonly Float64Array[],
  rr: readonly Float64Array[],
  candidate: string | null,
  options: { iterations: number; seed: number; confidence: number },
): Comparison[] {
  if (counts.length === 0 || reports.length === 0) return [];
  const replicates = bootstrapRatios(counts, [...hits, ...rr], options);
  const of = (metric: IntervalMetric, r: number): Float64Array =>
    replicates[(metric === "hr@20" ? 0 : reports.length) + r] as Float64Array;
  reports.forEach((report, r) => {
    for (const metric of INTERVAL_METRICS) {
      report.metrics[metric].ci = percentileInterval(of(metric, r), options.confidence);
    }
  });
  const c = reports.findIndex((report) => report.name === candidate);
  if (c < 0) return [];
  const comparisons: Comparison[] = [];
  reports.forEach((reference, r) => {
    if (r === c) return;
    for (const metric of INTERVAL_METRICS) {
      const a = of(metric, c);
      const b = of(metric, r);
      const diff = a.map((value, i) => value - (b[i] as number));
      const va = (reports[c] as RecommenderReport).metrics[metric].value;
      const vb = reference.metrics[metric].value;
      comparisons.push({
        candidate: candidate as string,
        reference: reference.name,
        metric,
        difference: va === null || vb === null ? null : va - vb,
        ci: percentileInterval(diff, options.confidence),
      });
    }
  });
  return comparisons;
}
