/** Plain-text tables of an evaluation and its gate verdicts, for the terminal and the logs. */
import type { EvaluationReport } from "./evaluate.ts";
import { failedChecks, type GateResult } from "./gates.ts";
import type { Figure } from "./metrics.ts";
import { textTable } from "../text-table.ts";

const num = (value: number | null, digits = 4): string =>
  value === null ? "n/a" : value.toFixed(digits);

function withCi(f: Figure): string {
  return f.ci ? `${num(f.value)} [${num(f.ci.low)}, ${num(f.ci.high)}]` : num(f.value);
}

/** One row per recommender: accuracy (with intervals), beyond-accuracy and robustness figures. */
export function formatMetricTable(report: EvaluationReport): string {
  const level = Math.round(report.settings.confidence * 100);
  const header = [
    "recommender",
    "kind",
    "HR@10",
    `HR@20 [${level}% CI]`,
    "MRR@10",
    `MRR@20 [${level}% CI]`,
    "last HR@20",
    "cov@20",
    "pop bias",
    "repeats",
    "perturb",
    "shuffle",
    "unknown ok",
  ];
  const rows = report.recommenders.map((r) => {
    const m = r.metrics;
    const role =
      r.name === report.roles.candidate
        ? " *"
        : r.name === report.roles.production
          ? " (prod)"
          : "";
    return [
      `${r.name}${role}`,
      r.kind,
      num(m["hr@10"].value),
      withCi(m["hr@20"]),
      num(m["mrr@10"].value),
      withCi(m["mrr@20"]),
      num(m["last_hr@20"].value),
      num(m["coverage@20"].value),
      num(m.popularity_bias.value, 3),
      num(m.repeat_share.value, 3),
      num(m.perturbation_overlap.value, 3),
      num(m.shuffle_overlap.value, 3),
      num(m.unknown_sku_validity.value, 3),
    ];
  });
  const c = report.counts;
  const footer =
    `${c.prefixes} prefixes from ${c.evaluatedSessions} of ${c.evaluableSessions} test sessions ` +
    `(${c.lastItems} last items); catalog ${c.catalogItems} SKUs, ${c.trainItems} seen in train; ` +
    `robustness: ${c.perturbed} perturbed, ${c.shuffled} shuffled, ${c.unknownSkuSessions} unknown-SKU sessions` +
    (report.roles.candidate ? `; * = candidate` : "");
  return `${textTable(header, rows)}\n${footer}`;
}

/** One row per slice, one HR@20 column per recommender, with the slice's prefix count. */
export function formatSliceTable(report: EvaluationReport): string {
  const first = report.recommenders[0];
  if (!first) return "";
  const header = ["slice", "n", ...report.recommenders.map((r) => r.name)];
  const rows = first.slices.map((s, i) => [
    `${s.family}=${s.slice}`,
    String(s.n),
    ...report.recommenders.map((r) => num(r.slices[i]?.hr20 ?? null)),
  ]);
  return textTable(header, rows);
}

export function formatGateTable(result: GateResult): string {
  const header = ["gate", "kind", "metric", "threshold", "value", "verdict", "blocking"];
  const rows = result.checks.map((c) => [
    c.name,
    c.kind,
    c.metric,
    num(c.threshold),
    num(c.value),
    c.verdict.toUpperCase(),
    c.blocking ? "yes" : "no",
  ]);
  const details = result.checks.map((c) => `  ${c.name}: ${c.detail}`).join("\n");
  const verdict = result.passed
    ? "gates passed"
    : `gates FAILED (${failedChecks(result).length} blocking)`;
  return `${textTable(header, rows)}\n${details}\n${verdict}${result.candidate ? ` for ${result.candidate}` : ""}`;
}
