/**
 * Drift between what a model was trained on and what production asks it about: the training
 * split's sessions against the served sessions (dbt's served_sessions). Each figure is a
 * published, model-free measure, so it means the same on any data:
 *
 * - unknown-SKU rate: served SKUs the catalog does not hold;
 * - out-of-vocabulary share: served SKUs the training split never showed (the model cannot rank
 *   them as inputs);
 * - item-popularity shift: the training items are cut into ten buckets of equal training mass,
 *   from the most popular items to the tail, plus one for items training never saw; the served
 *   events' distribution over the same buckets is compared by the population stability index
 *   (PSI: < 0.1 stable, 0.1–0.25 moderate, > 0.25 a significant shift, by the usual reading) and
 *   the Jensen–Shannon divergence (base 2, from 0 for equal to 1 for disjoint);
 * - session-length shift: PSI over length buckets 1, 2, 3–4, 5–8, 9–16, 17+ (served sessions are
 *   what clients sent so far, so read it against earlier checks rather than as an absolute);
 * - replay: the model's HR@20 on served sessions whose next item is known (each served session's
 *   last SKU, from the SKUs before it), with a session bootstrap interval.
 */
import type { Figure } from "../evaluate/metrics.ts";
import { bootstrapRatios, percentileInterval } from "../evaluate/bootstrap.ts";
import { rankOf } from "../evaluate/metrics.ts";
import type { Recommender } from "../evaluate/recommender.ts";
import { parseItems } from "../train/dataset.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";

export interface SessionItems {
  items: readonly string[];
}

export interface DriftReport {
  servedSessions: number;
  servedEvents: number;
  unknownSkuRate: number;
  outOfVocabularyShare: number;
  popularity: { psi: number; jensenShannon: number; buckets: DriftBucket[] };
  sessionLength: { trainingMean: number; servedMean: number; psi: number };
  replay: { model: string; prefixes: number; hr20: Figure };
}

/** One bucket of a compared distribution: its label and the two shares. */
export interface DriftBucket {
  label: string;
  training: number;
  served: number;
}

/** Drift figures a gate can name (gates.yml `kind: drift`, `metric: ...`). */
export const DRIFT_METRICS = {
  unknown_sku_rate: (d: DriftReport) => d.unknownSkuRate,
  oov_share: (d: DriftReport) => d.outOfVocabularyShare,
  popularity_psi: (d: DriftReport) => d.popularity.psi,
  popularity_js: (d: DriftReport) => d.popularity.jensenShannon,
  session_length_psi: (d: DriftReport) => d.sessionLength.psi,
} as const;
export type DriftMetric = keyof typeof DRIFT_METRICS;

/** Empty buckets get this share so that PSI stays finite; the usual smoothing. */
const EPSILON = 1e-4;
const POPULARITY_BUCKETS = 10;
const LENGTH_EDGES = [1, 2, 4, 8, 16];

/** The served sessions in the warehouse; none when no traffic was ever loaded. */
export async function readServedSessions(warehouse: Warehouse): Promise<SessionItems[]> {
  const exists = await warehouse.query(
    // The current schema only: another schema of the same database may have its own.
    "select count(*) as n from information_schema.tables where lower(table_name) = 'served_sessions' and lower(table_schema) = lower(current_schema())",
  );
  if (Number(exists[0]?.n ?? 0) === 0) return [];
  const rows = await warehouse.query(
    "select served_session_id, items from served_sessions order by served_at_ms, served_session_id",
  );
  return rows.map((r) => ({ items: parseItems(r.items ?? null, String(r.served_session_id)) }));
}

export interface DriftInputs {
  train: readonly SessionItems[];
  served: readonly SessionItems[];
  /** SKUs the catalog holds. */
  catalog: { has(sku: string): boolean };
  /** The model that answers production, replayed on the served sessions. */
  model: Recommender;
  bootstrap: { iterations: number; seed: number };
}

export async function measureDrift(inputs: DriftInputs): Promise<DriftReport> {
  const { train, served, catalog } = inputs;
  const trainCounts = countItems(train);
  let events = 0;
  let unknown = 0;
  let outside = 0;
  for (const session of served) {
    for (const sku of session.items) {
      events++;
      if (!catalog.has(sku)) unknown++;
      if (!trainCounts.has(sku)) outside++;
    }
  }
  const buckets = popularityBuckets(trainCounts, served);
  const trainLengths = lengthShares(train);
  const servedLengths = lengthShares(served);
  return {
    servedSessions: served.length,
    servedEvents: events,
    unknownSkuRate: share(unknown, events),
    outOfVocabularyShare: share(outside, events),
    popularity: {
      psi: psi(buckets),
      jensenShannon: jensenShannon(buckets),
      buckets,
    },
    sessionLength: {
      trainingMean: meanLength(train),
      servedMean: meanLength(served),
      psi: psi(trainLengths.map((t, i) => ({ ...t, served: servedLengths[i]?.training ?? 0 }))),
    },
    replay: await replay(inputs),
  };
}

function countItems(sessions: readonly SessionItems[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const session of sessions) {
    for (const sku of session.items) counts.set(sku, (counts.get(sku) ?? 0) + 1);
  }
  return counts;
}

/**
 * Ten buckets of equal training mass, most popular first (ties broken by SKU, so the cut is the
 * same on every machine), and one for SKUs training never saw.
 */
function popularityBuckets(
  trainCounts: Map<string, number>,
  served: readonly SessionItems[],
): DriftBucket[] {
  const ranked = [...trainCounts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const total = ranked.reduce((sum, [, n]) => sum + n, 0);
  const bucketOf = new Map<string, number>();
  const training = new Array<number>(POPULARITY_BUCKETS + 1).fill(0);
  let cumulative = 0;
  for (const [sku, n] of ranked) {
    // The bucket the item's mass starts in: an item heavier than a tenth fills its own bucket.
    const bucket = Math.min(
      POPULARITY_BUCKETS - 1,
      Math.floor((cumulative / total) * POPULARITY_BUCKETS),
    );
    bucketOf.set(sku, bucket);
    training[bucket] = (training[bucket] as number) + n;
    cumulative += n;
  }
  const servedCounts = new Array<number>(POPULARITY_BUCKETS + 1).fill(0);
  let events = 0;
  for (const session of served) {
    for (const sku of session.items) {
      const bucket = bucketOf.get(sku) ?? POPULARITY_BUCKETS;
      servedCounts[bucket] = (servedCounts[bucket] as number) + 1;
      events++;
    }
  }
  return training.map((n, i) => ({
    label:
      i === POPULARITY_BUCKETS
        ? "unseen in training"
        : `popularity ${(i * 10).toFixed(0)}–${((i + 1) * 10).toFixed(0)}%`,
    training: share(n, total),
    served: share(servedCounts[i] as number, events),
  }));
}

function lengthShares(sessions: readonly SessionItems[]): DriftBucket[] {
  const counts = new Array<number>(LENGTH_EDGES.length + 1).fill(0);
  for (const session of sessions) {
    const n = session.items.length;
    let bucket = LENGTH_EDGES.findIndex((edge) => n <= edge);
    if (bucket < 0) bucket = LENGTH_EDGES.length;
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  const labels = ["1", "2", "3–4", "5–8", "9–16", "17+"];
  return counts.map((n, i) => ({
    label: labels[i] as string,
    training: share(n, sessions.length),
    served: 0,
  }));
}

/** PSI = Σ (s − t) ln(s / t), shares smoothed away from 0. */
export function psi(buckets: readonly DriftBucket[]): number {
  let sum = 0;
  for (const b of buckets) {
    const t = Math.max(b.training, EPSILON);
    const s = Math.max(b.served, EPSILON);
    sum += (s - t) * Math.log(s / t);
  }
  return sum;
}

/** Jensen–Shannon divergence in bits: 0 for equal distributions, 1 for disjoint ones. */
export function jensenShannon(buckets: readonly DriftBucket[]): number {
  let sum = 0;
  for (const b of buckets) {
    const m = (b.training + b.served) / 2;
    if (b.training > 0) sum += 0.5 * b.training * Math.log2(b.training / m);
    if (b.served > 0) sum += 0.5 * b.served * Math.log2(b.served / m);
  }
  return Math.max(0, sum);
}

function meanLength(sessions: readonly SessionItems[]): number {
  return share(
    sessions.reduce((sum, s) => sum + s.items.length, 0),
    sessions.length,
  );
}

function share(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

/** HR@20 of the model on each served session's last SKU given the ones before it. */
async function replay(inputs: DriftInputs): Promise<DriftReport["replay"]> {
  const cases = inputs.served.filter((s) => s.items.length >= 2);
  const lists = await inputs.model.recommend(
    cases.map((s) => s.items.slice(0, -1)),
    20,
  );
  const hits = cases.map((s, i) =>
    rankOf(lists[i] ?? [], s.items.at(-1) as string, 20) > 0 ? 1 : 0,
  );
  const hr20: Figure = {
    value:
      cases.length > 0
        ? share(
            hits.reduce((a: number, b) => a + b, 0),
            cases.length,
          )
        : null,
    n: cases.length,
  };
  if (cases.length > 1) {
    const [replicates] = bootstrapRatios(
      new Array<number>(cases.length).fill(1),
      [hits],
      inputs.bootstrap,
    );
    hr20.ci = percentileInterval(replicates as Float64Array, 0.95);
  }
  return { model: inputs.model.name, prefixes: cases.length, hr20 };
}
