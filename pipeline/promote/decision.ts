/**
 * The promotion decision: may this run's model replace the one in production?
 *
 * 1. Blocking gates. A model whose blocking gates failed is refused. `force` does NOT change
 *    that: a failed blocking gate says the model is broken or unsafe (below the baselines, no
 *    answer for unknown SKUs), not that it merely loses to production. Only the separate,
 *    explicit `overrideGates` (CLI `--override-gates`) ships such a model, and it is recorded as
 *    forced.
 * 2. No model in production: the challenger is promoted.
 * 3. Champion/challenger, on the evaluation's figures for both models on the same test split.
 *    The challenger wins when
 *      - its HR@20 point estimate is at least the champion's minus `tolerance`, and
 *      - it is not significantly worse on HR@20 or MRR@20: the confidence interval of the
 *        difference (challenger − champion) lies entirely below −tolerance. With the paired
 *        difference from the evaluation (bootstrap over the same sessions) that interval is used;
 *        without it, the two models' own intervals must not overlap (by more than the tolerance),
 *        which is conservative.
 *    A significant improvement is not required: a retrained model of the same architecture on
 *    fresher data rarely beats production significantly, and demanding it would freeze a stale
 *    model in production. Noise cannot push a worse model through either: a clear loss is
 *    refused by the second rule.
 * 4. `force` promotes a challenger that lost, and the decision says it was forced.
 *
 * `tolerance` is absolute, in HR@20 / MRR@20 points (0.005 = half a percentage point).
 */

/** A figure and its confidence interval (the evaluation's bootstrap, 95 % by default). */
export interface MetricEstimate {
  value: number;
  lower: number;
  upper: number;
}

/** What the registry keeps about a model's quality: HR@20 and MRR@20 with their intervals. */
export interface MetricsSummary {
  hr20: MetricEstimate;
  mrr20: MetricEstimate;
  /** Test examples (next-item predictions) the figures were computed on. */
  examples: number;
}

export interface GateOutcome {
  passed: boolean;
  /** Names of the blocking checks that failed (empty when `passed`). */
  failedBlocking: string[];
}

export interface DecisionInput {
  gates: GateOutcome;
  challenger: MetricsSummary;
  /** The production model's figures on the same test split; absent when nothing is in production. */
  champion?: MetricsSummary;
  /** Paired challenger − champion differences with their intervals, when the evaluation has them. */
  difference?: { hr20: MetricEstimate; mrr20: MetricEstimate };
  /** Promote a challenger that does not beat production. */
  force: boolean;
  /** Promote even though blocking gates failed (a separate, explicit choice; implies forced). */
  overrideGates?: boolean;
  /** Absolute HR@20 / MRR@20 the challenger may lose and still win; >= 0. */
  tolerance: number;
}

export type Verdict =
  "gates-failed" | "no-champion" | "better" | "non-inferior" | "worse" | "significantly-worse";

export interface PromotionDecision {
  promote: boolean;
  /** True when the model ships only because of `force` / `overrideGates`. */
  forced: boolean;
  verdict: Verdict;
  /** One sentence for people: what was compared and why this answer. */
  reason: string;
}

const METRICS = [
  ["hr20", "HR@20"],
  ["mrr20", "MRR@20"],
] as const;

export function decidePromotion(input: DecisionInput): PromotionDecision {
  const { gates, challenger, champion, force, tolerance } = input;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(`promotion tolerance must be a number >= 0, got ${tolerance}`);
  }
  if (!gates.passed) {
    const failed = gates.failedBlocking.length ? gates.failedBlocking.join(", ") : "unnamed";
    if (input.overrideGates) {
      return {
        promote: true,
        forced: true,
        verdict: "gates-failed",
        reason: `blocking gates failed (${failed}) but --override-gates was given`,
      };
    }
    return {
      promote: false,
      forced: false,
      verdict: "gates-failed",
      reason:
        `blocking gates failed (${failed}); --force does not override failed gates ` +
        `(use --override-gates to ship it anyway)`,
    };
  }
  if (!champion) {
    return {
      promote: true,
      forced: false,
      verdict: "no-champion",
      reason: `no model in production; challenger HR@20 ${fmt(challenger.hr20)}`,
    };
  }

  const worse = METRICS.filter(([key]) => {
    const paired = input.difference?.[key];
    return paired
      ? paired.upper < -tolerance
      : challenger[key].upper < champion[key].lower - tolerance;
  }).map(([, label]) => label);
  const hrDelta = challenger.hr20.value - champion.hr20.value;
  const comparison =
    `HR@20 ${fmt(challenger.hr20)} vs production ${fmt(champion.hr20)}, ` +
    `MRR@20 ${fmt(challenger.mrr20)} vs ${fmt(champion.mrr20)}`;

  let verdict: Verdict;
  let why: string;
  if (worse.length > 0) {
    verdict = "significantly-worse";
    why = `significantly worse than production on ${worse.join(" and ")} (${comparison})`;
  } else if (hrDelta < -tolerance) {
    verdict = "worse";
    why = `HR@20 below production by ${(-hrDelta).toFixed(4)}, more than the tolerance ${tolerance} (${comparison})`;
  } else {
    const pairedHr = input.difference?.hr20;
    const better = pairedHr ? pairedHr.lower > 0 : challenger.hr20.lower > champion.hr20.upper;
    verdict = better ? "better" : "non-inferior";
    return {
      promote: true,
      forced: false,
      verdict,
      reason: better
        ? `significantly better than production (${comparison})`
        : `at least as good as production within tolerance ${tolerance} (${comparison})`,
    };
  }
  return force
    ? { promote: true, forced: true, verdict, reason: `${why}; promoted because of --force` }
    : { promote: false, forced: false, verdict, reason: `${why}; use --force to promote anyway` };
}

function fmt(metric: MetricEstimate): string {
  return `${metric.value.toFixed(4)} [${metric.lower.toFixed(4)}, ${metric.upper.toFixed(4)}]`;
}
