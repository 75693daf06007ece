/**
 * Fitting a blend's weights (./blend.ts) on held-out prefixes — the validation split, never
 * test: coordinate ascent over a grid of weights, maximising HR@20 and MRR@20 together.
 *
 * Each prefix is reduced once to its candidates — the network's top `NEURAL_CANDIDATES`, every
 * item a sparse component scored, and the target — with every component's value on them, so a
 * trial weighting costs a few hundred multiply-adds per prefix. The ranks are exact for the
 * top 20: an item outside the candidates has no sparse evidence and a network value below the
 * network's 200th, so it can outrank the target only when at least 200 candidates already do.
 */
import { BlendScorer, type BlendSpec, type ComponentKind, type Evidence } from "./blend.ts";
import { FIRST_ITEM_ID } from "./sequences.ts";
import { topK } from "./top-k.ts";

/** Cut-off of the metrics the fit maximises. */
export const FIT_K = 20;
const NEURAL_CANDIDATES = 200;
/** Prefixes whose logits the runtime computes together. */
const LOGIT_CHUNK = 64;
/** Weights tried for each component (only their ratios matter). */
const GRID = [0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.4, 2, 3, 5];
const ROUNDS = 3;

/** One held-out prefix as fitting sees it. */
export interface FitCase {
  /** Candidate ids. */
  ids: Int32Array;
  /** [candidates, components] values, components in the blend's order. */
  values: Float32Array;
  /** The target's index in `ids`; −1 when it can never be recommended (unknown, excluded). */
  target: number;
  /**
   * Eligible ids smaller than the target that are not candidates: on a zero score they rank
   * ahead of it (ties go to the smaller id).
   */
  zeroAhead: number;
}

/** The candidates of one prefix and every component's values on them. */
export function fitCase(
  scorer: BlendScorer,
  prefix: ArrayLike<number>,
  target: number,
  logits?: Float32Array,
): FitCase {
  const kinds = scorer.spec.components.map((c) => c.kind);
  const excluded = scorer.excluded(prefix);
  const eligible = (id: number) => id >= 0 && id < scorer.vocabSize && !excluded.includes(id);
  const columns: Map<number, number>[] = [];
  const chosen = new Set<number>();
  if (eligible(target)) chosen.add(target);
  let dense: Float32Array | undefined;
  for (const kind of kinds) {
    const column = new Map<number, number>();
    if (kind === "neural") {
      dense = scorer.neural(prefix, excluded, false, logits).slice();
      for (const id of largest(dense, NEURAL_CANDIDATES, excluded)) chosen.add(id);
    } else {
      const c = scorer.sparse(kind, prefix, excluded);
      for (let i = 0; i < c.length; i++) {
        const id = c.ids[i] as number;
        if (!eligible(id)) continue;
        column.set(id, (c.values[i] as number) * c.scale);
        chosen.add(id);
      }
    }
    columns.push(column);
  }
  const valueOf = (id: number, k: number): number =>
    kinds[k] === "neural"
      ? ((dense as Float32Array)[id] as number)
      : ((columns[k] as Map<number, number>).get(id) ?? 0);
  // A candidate above the target's id that no component scores higher than the target can never
  // rank ahead of it, whatever the weights (ties go to the smaller id): drop it.
  const beaten = (id: number) =>
    eligible(target) && id > target && kinds.every((_, k) => valueOf(id, k) <= valueOf(target, k));
  const ids = Int32Array.from([...chosen].filter((id) => !beaten(id)));
  const values = new Float32Array(ids.length * kinds.length);
  ids.forEach((id, i) => {
    for (let k = 0; k < kinds.length; k++) values[i * kinds.length + k] = valueOf(id, k);
  });
  let zeroAhead = 0;
  if (eligible(target)) {
    zeroAhead = target - excluded.filter((id) => id < target).length;
    for (const id of ids) if (id < target) zeroAhead--;
  }
  return { ids, values, target: eligible(target) ? ids.indexOf(target) : -1, zeroAhead };
}

/** Ids of the `count` largest values, skipping `excluded`. */
function largest(values: Float32Array, count: number, excluded: readonly number[]): Int32Array {
  const ids = new Int32Array(count);
  const n = topK(values, 0, values.length, count, excluded, ids, new Float32Array(count));
  return ids.subarray(0, n);
}

/**
 * The 1-based rank of the target under `weights` (Infinity when it cannot be recommended). With
 * `limit`, counting stops once the rank passes it: any value above `limit` means "not in the
 * top `limit`".
 */
export function rankOf(c: FitCase, weights: readonly number[], limit = Infinity): number {
  if (c.target < 0) return Number.POSITIVE_INFINITY;
  const k = weights.length;
  const score = (i: number) => {
    let s = 0;
    for (let j = 0; j < k; j++) s += (weights[j] as number) * (c.values[i * k + j] as number);
    return s;
  };
  const targetScore = score(c.target);
  const targetId = c.ids[c.target] as number;
  let rank = 1;
  for (let i = 0; i < c.ids.length; i++) {
    if (i === c.target) continue;
    const s = score(i);
    if (s > targetScore || (s === targetScore && (c.ids[i] as number) < targetId)) {
      if (++rank > limit) return rank;
    }
  }
  return targetScore > 0 ? rank : rank + c.zeroAhead;
}

export interface FitMetrics {
  hr: number;
  mrr: number;
  cases: number;
}

export function fitMetrics(cases: readonly FitCase[], weights: readonly number[]): FitMetrics {
  let hits = 0;
  let reciprocal = 0;
  for (const c of cases) {
    const rank = rankOf(c, weights, FIT_K);
    if (rank <= FIT_K) {
      hits++;
      reciprocal += 1 / rank;
    }
  }
  const n = Math.max(cases.length, 1);
  return { hr: hits / n, mrr: reciprocal / n, cases: cases.length };
}

export interface FittedBlend {
  spec: BlendSpec;
  /** HR@20 and MRR@20 of the fitted weights on the fitting cases. */
  metrics: FitMetrics;
}

/** Each case's contribution to the objective under `weights` (see `objectiveOf`). */
function perCase(
  cases: readonly FitCase[],
  weights: readonly number[],
  scale: FitMetrics,
): Float64Array {
  return Float64Array.from(cases, (c) => {
    const rank = rankOf(c, weights, FIT_K);
    return rank <= FIT_K ? 1 / scale.hr + 1 / rank / scale.mrr : 0;
  });
}

/**
 * What the fit maximises: HR@20 and MRR@20 relative to a reference blend's (equal weights), so
 * both count alike — MRR is a few times smaller than HR, and a plain sum would all but ignore it.
 */
function objectiveOf(m: FitMetrics, scale: FitMetrics): number {
  return m.hr / scale.hr + m.mrr / scale.mrr;
}

/**
 * HR@20 and MRR@20 of `weights` with component k set to each of `values`, in one pass over the
 * cases: each candidate's score without component k is computed once, then each value costs one
 * multiply-add per candidate (a fitting round is most of the training stage's blend time).
 */
function lineMetrics(
  cases: readonly FitCase[],
  weights: readonly number[],
  k: number,
  values: readonly number[],
): FitMetrics[] {
  const hits = values.map(() => 0);
  const reciprocal = values.map(() => 0);
  const width = weights.length;
  let base = new Float64Array(256);
  for (const c of cases) {
    if (c.target < 0) continue;
    const n = c.ids.length;
    if (base.length < n) base = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < width; j++) {
        if (j !== k) s += (weights[j] as number) * (c.values[i * width + j] as number);
      }
      base[i] = s;
    }
    const t = c.target;
    const targetId = c.ids[t] as number;
    values.forEach((x, g) => {
      const own = (base[t] as number) + x * (c.values[t * width + k] as number);
      let rank = 1;
      for (let i = 0; i < n && rank <= FIT_K; i++) {
        if (i === t) continue;
        const s = (base[i] as number) + x * (c.values[i * width + k] as number);
        if (s > own || (s === own && (c.ids[i] as number) < targetId)) rank++;
      }
      if (!(own > 0)) rank += c.zeroAhead;
      if (rank <= FIT_K) {
        hits[g] = (hits[g] as number) + 1;
        reciprocal[g] = (reciprocal[g] as number) + 1 / rank;
      }
    });
  }
  const n = Math.max(cases.length, 1);
  return values.map((_, g) => ({
    hr: (hits[g] as number) / n,
    mrr: (reciprocal[g] as number) / n,
    cases: cases.length,
  }));
}

/**
 * Weights for `kinds` maximising HR@20 and MRR@20 (see `objectiveOf`) on `cases` (built with a scorer over the same
 * kinds, in the same order), by coordinate ascent over the grid: each component in turn takes
 * the grid value that scores best, for a few rounds, from equal weights and from the best single
 * component. The weights are scaled so the largest is 1.
 *
 * A blend replaces the best single component only when it beats it by more than one standard
 * error of their paired difference on these cases (the one-standard-error rule of model
 * selection): on small or sparse data the difference is mostly noise, and the simpler choice
 * generalises better — there, the neighbourhood alone may be best.
 */
export function fitWeights(
  kinds: readonly ComponentKind[],
  cases: readonly FitCase[],
): FittedBlend {
  const reference = fitMetrics(
    cases,
    kinds.map(() => 1),
  );
  const scale =
    reference.hr > 0 && reference.mrr > 0 ? reference : { hr: 1, mrr: 1, cases: cases.length };
  const objective = (w: readonly number[]) => objectiveOf(fitMetrics(cases, w), scale);
  const singles = kinds.map((_, k) => kinds.map((__, j): number => (j === k ? 1 : 0)));
  const bestSingle = singles.reduce((a, b) => (objective(b) > objective(a) ? b : a));
  let blend = { weights: bestSingle, score: objective(bestSingle) };
  for (const start of kinds.length > 1 ? [kinds.map(() => 1), bestSingle] : []) {
    const weights = [...start];
    let best = objective(weights);
    for (let round = 0; round < ROUNDS; round++) {
      let improved = false;
      for (let k = 0; k < kinds.length; k++) {
        const values = GRID.filter((value) => weights.some((w, j) => (j === k ? value : w) > 0));
        lineMetrics(cases, weights, k, values).forEach((metrics, g) => {
          const score = objectiveOf(metrics, scale);
          if (score > best + 1e-12) {
            best = score;
            weights[k] = values[g] as number;
            improved = true;
          }
        });
      }
      if (!improved) break;
    }
    if (best > blend.score + 1e-12) blend = { weights, score: best };
  }
  let chosen = blend.weights;
  if (chosen !== bestSingle && cases.length > 1) {
    const a = perCase(cases, chosen, scale);
    const b = perCase(cases, bestSingle, scale);
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < a.length; i++) {
      const d = (a[i] as number) - (b[i] as number);
      sum += d;
      squares += d * d;
    }
    const n = a.length;
    const mean = sum / n;
    const standardError = Math.sqrt(Math.max(squares / n - mean * mean, 0) / (n - 1));
    if (mean <= standardError) chosen = bestSingle;
  }
  const largest = Math.max(...chosen);
  const weights = chosen.map((w) => Number((w / largest).toPrecision(4)));
  return {
    spec: { components: kinds.map((kind, k) => ({ kind, weight: weights[k] as number })) },
    metrics: fitMetrics(cases, weights),
  };
}

/**
 * The fitting cases of held-out `sessions` (vocabulary ids, at most `limit` prefixes, in order)
 * for a blend of `kinds`, read as the predictor reads them (./blend.ts: unknown ids count in the
 * length only); an unknown target stays a case the blend cannot hit.
 */
export function fitCases(
  kinds: readonly ComponentKind[],
  evidence: Evidence,
  sessions: readonly Int32Array[],
  options: { excludeLast: boolean; limit: number },
): FitCase[] {
  const scorer = new BlendScorer(
    { components: kinds.map((kind) => ({ kind, weight: 1 })) },
    evidence,
    { excludeLast: options.excludeLast },
  );
  const wanted: { prefix: Int32Array; target: number }[] = [];
  for (const session of sessions) {
    for (let t = 1; t < session.length && wanted.length < options.limit; t++) {
      // A prefix of unknown SKUs only gets the popularity fallback, whatever the weights.
      const prefix = session.subarray(0, t);
      if (prefix.some((id) => id >= FIRST_ITEM_ID)) {
        wanted.push({ prefix, target: session[t] as number });
      }
    }
    if (wanted.length >= options.limit) break;
  }
  const cases: FitCase[] = [];
  const v = evidence.vocabSize;
  for (let at = 0; at < wanted.length; at += LOGIT_CHUNK) {
    const chunk = wanted.slice(at, at + LOGIT_CHUNK);
    const logits = scorer.logits(chunk.map((w) => w.prefix));
    chunk.forEach(({ prefix, target }, i) =>
      cases.push(fitCase(scorer, prefix, target, logits?.subarray(i * v, (i + 1) * v))),
    );
  }
  return cases;
}

/**
 * Cases built for `kinds` as cases of the components at `columns` alone: the same candidates,
 * fewer values. Ranks stay exact for the top 20 — a candidate set only needs to hold every item
 * a blend of these components can rank above the target, and one built for more components holds
 * more.
 */
export function selectComponents(
  cases: readonly FitCase[],
  width: number,
  columns: readonly number[],
): FitCase[] {
  return cases.map((c) => {
    const values = new Float32Array(c.ids.length * columns.length);
    for (let i = 0; i < c.ids.length; i++) {
      columns.forEach(
        (column, k) => (values[i * columns.length + k] = c.values[i * width + column] as number),
      );
    }
    return { ...c, values };
  });
}
