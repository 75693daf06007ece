/**
 * Two runs side by side (`pipeline runs compare A B`): the settings that differ, whether they
 * read the same data, which stages had equal cache keys (equal inputs, code and settings) or
 * were reused, and how every recommender's HR@20 and MRR@20 moved from A to B. When both runs
 * evaluated the same test prefixes, the candidates' difference gets a paired bootstrap interval
 * from their per-prefix outcomes (evaluate/outcomes.ts): much narrower than the two runs'
 * separate intervals suggest, as the prefixes hard for one model are hard for the other.
 */
import type { ShownValue } from "../config/shown-settings.ts";
import { InputError } from "../errors.ts";
import { bootstrapRatios, percentileInterval } from "../evaluate/bootstrap.ts";
import { EVALUATE_DEFAULTS, INTERVAL_METRICS, type IntervalMetric } from "../evaluate/evaluate.ts";
import type { Figure } from "../evaluate/metrics.ts";
import { readOutcomes, type EvaluationOutcomes, type OutcomeSeries } from "../evaluate/outcomes.ts";
import type { EvaluateResult } from "../evaluate/stage.ts";
import { showRun, validateRunId, type StageRecord } from "../store/runs.ts";
import type { ArtifactStore } from "../store/store.ts";
import { readStageResult, STAGE_NAMES, type StageName } from "./results.ts";

/** A setting whose value differs; null where the run did not set it or did not record it. */
export interface SettingDifference {
  key: string;
  a: ShownValue;
  b: ShownValue;
}

export interface SettingsComparison {
  /** The stage whose record the settings were taken from, per run; null: none recorded them. */
  from: { a: string | null; b: string | null };
  differences: SettingDifference[];
}

/** One file or table a stage read, by content hash in each run (null: that run did not read it). */
export interface InputComparison {
  stage: "upload" | "transform";
  name: string;
  a: string | null;
  b: string | null;
  verdict: "equal" | "different" | "only in A" | "only in B";
}

export interface StageSide {
  status: StageRecord["status"];
  cacheKey?: string;
  /** The earlier run whose outputs this stage reused. */
  reusedFrom?: string;
}

export interface StageComparison {
  stage: StageName;
  a: StageSide | null;
  b: StageSide | null;
  /** Both keyed: whether the keys are equal (equal inputs, code and settings); else null. */
  sameKey: boolean | null;
}

export interface MetricValue {
  value: number;
  low?: number;
  high?: number;
}

/** One recommender's metric in each run, and B − A. */
export interface MetricDelta {
  /** "candidate" for the two runs' candidates (whose names may differ), else the name. */
  recommender: string;
  /** The names it went by in A and B, for the candidate. */
  names?: { a: string | null; b: string | null };
  metric: IntervalMetric;
  a: MetricValue | null;
  b: MetricValue | null;
  difference: number | null;
}

/** The candidates' B − A on the same prefixes, with its paired bootstrap interval. */
export interface PairedDelta {
  metric: IntervalMetric;
  difference: number;
  low: number;
  high: number;
  level: number;
}

export type PairedComparison =
  | { available: true; split: string; prefixes: number; deltas: PairedDelta[] }
  | { available: false; reason: string };

export interface RunComparison {
  a: string;
  b: string;
  settings: SettingsComparison;
  data: InputComparison[];
  stages: StageComparison[];
  metrics: MetricDelta[];
  paired: PairedComparison;
}

async function records(store: ArtifactStore, runId: string): Promise<StageRecord[]> {
  try {
    validateRunId(runId);
  } catch (error) {
    throw new InputError((error as Error).message, { field: "run id" });
  }
  const detail = await showRun(store, runId);
  if (!detail || detail.stages.length === 0) {
    throw new InputError(
      `no run "${runId}" in ${store.location}`,
      { field: "run id" },
      "List runs with: npx pipeline runs",
    );
  }
  return detail.stages;
}

/** The newest record that kept the settings: a resumed run's later stages may have had others. */
function newestSettings(stages: readonly StageRecord[]): StageRecord | undefined {
  return [...stages]
    .sort((x, y) => y.startedAt.localeCompare(x.startedAt))
    .find((r) => r.settings !== undefined);
}

function compareSettings(a: readonly StageRecord[], b: readonly StageRecord[]): SettingsComparison {
  const [ra, rb] = [newestSettings(a), newestSettings(b)];
  const [sa, sb] = [ra?.settings ?? {}, rb?.settings ?? {}];
  const keys = [...new Set([...Object.keys(sa), ...Object.keys(sb)])].sort();
  return {
    from: { a: ra?.stage ?? null, b: rb?.stage ?? null },
    // Without a record on one side every key would differ: say nothing rather than noise.
    differences:
      ra && rb
        ? keys
            .filter((key) => sa[key] !== sb[key])
            .map((key) => ({ key, a: sa[key] ?? null, b: sb[key] ?? null }))
        : [],
  };
}

function compareInputs(
  stage: InputComparison["stage"],
  a: StageRecord | undefined,
  b: StageRecord | undefined,
): InputComparison[] {
  const hashes = (r: StageRecord | undefined) =>
    new Map((r?.inputs ?? []).map((input) => [input.name, input.sha256 ?? null]));
  const [ha, hb] = [hashes(a), hashes(b)];
  return [...new Set([...ha.keys(), ...hb.keys()])].map((name) => {
    const [x, y] = [ha.get(name), hb.get(name)];
    const verdict: InputComparison["verdict"] =
      x === undefined
        ? "only in B"
        : y === undefined
          ? "only in A"
          : x === y
            ? "equal"
            : "different";
    return { stage, name, a: x ?? null, b: y ?? null, verdict };
  });
}

function stageSide(r: StageRecord | undefined): StageSide | null {
  if (!r) return null;
  return {
    status: r.status,
    ...(r.cache ? { cacheKey: r.cache.key } : {}),
    ...(r.reused ? { reusedFrom: r.reused.runId } : {}),
  };
}

function metricValue(f: Figure | undefined): MetricValue | null {
  if (!f || f.value === null) return null;
  return { value: f.value, ...(f.ci ? { low: f.ci.low, high: f.ci.high } : {}) };
}

function compareMetrics(a: EvaluateResult | null, b: EvaluateResult | null): MetricDelta[] {
  const candidate = (r: EvaluateResult | null) => r?.report.roles.candidate ?? null;
  const byName = (r: EvaluateResult | null, name: string | null) =>
    r?.report.recommenders.find((x) => x.name === name);
  // The candidates first, then every other recommender in A's order, then B's new ones.
  const others = [
    ...new Set(
      [a, b].flatMap((r) =>
        (r?.report.recommenders ?? []).map((x) => x.name).filter((n) => n !== candidate(r)),
      ),
    ),
  ];
  const rows: {
    recommender: string;
    names?: MetricDelta["names"];
    ra: string | null;
    rb: string | null;
  }[] = [
    {
      recommender: "candidate",
      names: { a: candidate(a), b: candidate(b) },
      ra: candidate(a),
      rb: candidate(b),
    },
    ...others.map((name) => ({ recommender: name, ra: name, rb: name })),
  ];
  return rows.flatMap((row) =>
    INTERVAL_METRICS.map((metric) => {
      const va = metricValue(byName(a, row.ra)?.metrics[metric]);
      const vb = metricValue(byName(b, row.rb)?.metrics[metric]);
      return {
        recommender: row.recommender,
        ...(row.names ? { names: row.names } : {}),
        metric,
        a: va,
        b: vb,
        difference: va && vb ? vb.value - va.value : null,
      };
    }),
  );
}

/** Sums of one series per session, in the outcomes' session order. */
function perSession(outcomes: EvaluationOutcomes, values: readonly number[]): Float64Array {
  const sums = new Float64Array(outcomes.sessions.length);
  let at = 0;
  outcomes.sessions.forEach((s, i) => {
    for (let p = 0; p < s.prefixes; p++) sums[i] = (sums[i] as number) + (values[at++] as number);
  });
  return sums;
}

/**
 * B − A of the candidates on the same prefixes. Whole sessions are resampled (their prefixes
 * are not independent), both series with the same draws: the interval is paired.
 */
export function pairedDeltas(
  outcomes: EvaluationOutcomes,
  a: OutcomeSeries,
  b: OutcomeSeries,
  options = {
    iterations: EVALUATE_DEFAULTS.bootstrapIterations,
    seed: EVALUATE_DEFAULTS.seed,
    confidence: EVALUATE_DEFAULTS.confidence,
  },
): PairedDelta[] {
  const counts = Float64Array.from(outcomes.sessions.map((s) => s.prefixes));
  const total = counts.reduce((x, y) => x + y, 0);
  const series = [a.hit20, b.hit20, a.rr20, b.rr20].map((v) => perSession(outcomes, v));
  const replicates = bootstrapRatios(counts, series, options);
  const mean = (s: Float64Array) => s.reduce((x, y) => x + y, 0) / total;
  return INTERVAL_METRICS.map((metric, m) => {
    const [ia, ib] = [2 * m, 2 * m + 1];
    const diff = (replicates[ib] as Float64Array).map(
      (v, i) => v - ((replicates[ia] as Float64Array)[i] as number),
    );
    return {
      metric,
      difference: mean(series[ib] as Float64Array) - mean(series[ia] as Float64Array),
      ...percentileInterval(diff, options.confidence),
    };
  });
}

async function comparePaired(
  store: ArtifactStore,
  runs: { a: string; b: string },
  results: { a: EvaluateResult | null; b: EvaluateResult | null },
): Promise<PairedComparison> {
  const sides = ["a", "b"] as const;
  const outcomes = { a: await readOutcomes(store, runs.a), b: await readOutcomes(store, runs.b) };
  const series: Partial<Record<"a" | "b", OutcomeSeries>> = {};
  for (const side of sides) {
    const run = `run ${runs[side]}`;
    const result = results[side];
    const candidate = result?.report.roles.candidate;
    if (!result || !candidate) return { available: false, reason: `${run} has no evaluation` };
    const kept = outcomes[side]?.recommenders[candidate];
    if (!kept) {
      return {
        available: false,
        reason: `${run} has no per-prefix outcomes (evaluated before outcomes.json was kept)`,
      };
    }
    series[side] = kept;
  }
  const [oa, ob] = [outcomes.a as EvaluationOutcomes, outcomes.b as EvaluationOutcomes];
  if (oa.split !== ob.split) {
    return {
      available: false,
      reason: `the runs evaluated different test prefixes (split ${oa.split.slice(0, 12)} vs ${ob.split.slice(0, 12)}): their candidates cannot be paired`,
    };
  }
  return {
    available: true,
    split: oa.split,
    prefixes: oa.sessions.reduce((n, s) => n + s.prefixes, 0),
    deltas: pairedDeltas(oa, series.a as OutcomeSeries, series.b as OutcomeSeries),
  };
}

export async function compareRuns(
  store: ArtifactStore,
  a: string,
  b: string,
): Promise<RunComparison> {
  const [ra, rb] = [await records(store, a), await records(store, b)];
  const stage = (rs: readonly StageRecord[], name: string) => rs.find((r) => r.stage === name);
  // A failed gate's record carries the whole evaluation too: its metrics compare as well.
  const results = {
    a: (await readStageResult(store, a, "evaluate"))?.result ?? null,
    b: (await readStageResult(store, b, "evaluate"))?.result ?? null,
  };
  return {
    a,
    b,
    settings: compareSettings(ra, rb),
    data: [
      ...compareInputs("upload", stage(ra, "upload"), stage(rb, "upload")),
      ...compareInputs("transform", stage(ra, "transform"), stage(rb, "transform")),
    ],
    stages: STAGE_NAMES.filter((name) => stage(ra, name) || stage(rb, name)).map((name) => {
      const [x, y] = [stageSide(stage(ra, name)), stageSide(stage(rb, name))];
      return {
        stage: name,
        a: x,
        b: y,
        sameKey: x?.cacheKey && y?.cacheKey ? x.cacheKey === y.cacheKey : null,
      };
    }),
    metrics: compareMetrics(results.a, results.b),
    paired: await comparePaired(store, { a, b }, results),
  };
}
