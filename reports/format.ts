/**
 * Number and label formatting shared by the markdown card and the HTML report, so both say the
 * same thing in the same words.
 */
import type {
  DriftFacts,
  CandidateFacts,
  CheckVerdict,
  Estimate,
  HistoryPoint,
  MetricsRow,
  RecommenderRole,
} from "./card-data.ts";

/** The ranking metrics every table and chart shows, in order. */
export const RANKING_METRICS = [
  { key: "hr10", label: "HR@10" },
  { key: "hr20", label: "HR@20" },
  { key: "mrr10", label: "MRR@10" },
  { key: "mrr20", label: "MRR@20" },
] as const satisfies readonly { key: keyof MetricsRow; label: string }[];

export const SHARE_METRICS = [
  { key: "coverage20", label: "Coverage@20" },
  { key: "popularityBias", label: "Popularity bias" },
  { key: "repeatShare", label: "Repeat share" },
] as const satisfies readonly { key: keyof MetricsRow; label: string }[];

/** Table order: the candidate first, then production, baselines, and the oracle as the ceiling. */
const ROLE_ORDER: Record<RecommenderRole, number> = {
  model: 0,
  ablation: 1,
  production: 2,
  baseline: 3,
  oracle: 4,
};

export const ROLE_LABEL: Record<RecommenderRole, string> = {
  model: "candidate",
  ablation: "ablation",
  production: "production",
  baseline: "baseline",
  oracle: "oracle",
};

export function sortedRows(rows: readonly MetricsRow[]): MetricsRow[] {
  return [...rows].sort((a, b) => ROLE_ORDER[a.kind] - ROLE_ORDER[b.kind]);
}

export function num(value: number | undefined, digits = 3): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return value.toFixed(digits);
}

export function int(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return Math.round(value).toLocaleString("en-US");
}

export function percent(value: number | undefined, digits = 1): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  return `${(value * 100).toFixed(digits)}%`;
}

export function seconds(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (value < 60) return `${value.toFixed(1)} s`;
  const minutes = Math.floor(value / 60);
  return `${minutes} min ${Math.round(value - minutes * 60)} s`;
}

/**
 * A history chart's x-axis label: "candidate", or the tail of a production run's id (ids start
 * with their time, so the tail is what tells them apart, and nine full ids would overlap).
 */
export function historyLabel(point: HistoryPoint): string {
  return point.kind === "candidate" ? "candidate" : point.runId.slice(-6);
}

/** What the history chart shows, in words under it. */
export function historyCaption(points: readonly HistoryPoint[]): string {
  const production = points.filter((p) => p.kind === "production").length;
  const candidate = points.some((p) => p.kind === "candidate");
  return `Bars: HR@20 of the last ${production} production model${production === 1 ? "" : "s"} (oldest first, by the end of their run id)${candidate ? " and of this run's candidate" : ""}; each from its own run's evaluation, so on that run's test split.`;
}

/** "0.312 [0.301, 0.324]": the value and its confidence interval when there is one. */
export function estimate(value: Estimate | undefined): string {
  if (!value) return "–";
  if (value.low === undefined || value.high === undefined) return num(value.value);
  return `${num(value.value)} [${num(value.low)}, ${num(value.high)}]`;
}

/** The sentences and rows every renderer shows about what the candidate is made of. */
export function candidateSummary(c: CandidateFacts): {
  text: string;
  rows: [string, string, string][];
  adds: string | undefined;
} {
  const parts = c.blend.filter((p) => p.weight > 0);
  const named = (p: { kind: string; weight: number }) =>
    p.kind === "neural" ? `a ${c.network}` : (BLEND_PART[p.kind] ?? p.kind);
  const list = (items: string[]) =>
    items.length > 1 ? `${items.slice(0, -1).join(", ")} and ${items.at(-1)}` : (items[0] ?? "");
  const unused = c.blend.filter((p) => p.weight === 0).map(named);
  const fitted = c.validation
    ? `; the weights were fitted on ${int(c.validation.prefixes)} validation prefixes`
    : "";
  const text =
    parts.length === 1
      ? `**${c.name}** ranks with ${named(parts[0] as { kind: string; weight: number })} alone${unused.length ? ` (${list(unused)} got weight 0 on validation)` : ""}.`
      : `**${c.name}** blends ${list(parts.map((p) => `${named(p)} (weight ${p.weight})`))}${fitted}${unused.length ? `; ${list(unused)} got weight 0` : ""}.`;
  const rows: [string, string, string][] = c.validation
    ? [
        ["the blend", num(c.validation.candidate.hr20), num(c.validation.candidate.mrr20)],
        ["the network alone", num(c.validation.network.hr20), num(c.validation.network.mrr20)],
        ...(c.validation.withoutNetwork
          ? [
              [
                "without the network",
                num(c.validation.withoutNetwork.hr20),
                num(c.validation.withoutNetwork.mrr20),
              ] as [string, string, string],
            ]
          : []),
      ]
    : [];
  const adds = c.networkAdds?.length
    ? `On the test split the network adds ${c.networkAdds
        .map(
          (d) =>
            `${d.metric.toUpperCase()} ${delta(d.difference, 0, 4)}${d.low !== undefined && d.high !== undefined ? ` (95% CI [${num(d.low, 4)}, ${num(d.high, 4)}])` : ""}`,
        )
        .join(" and ")} over the same blend without it (the ablation).`
    : undefined;
  return { text, rows, adds };
}

const BLEND_PART: Record<string, string> = {
  sknn: "session-kNN",
  cooccurrence: "item co-occurrence",
  repeat: "in-session repeats",
};

/** "+0.012" / "−0.004": the sign always shown, a true minus sign for readability. */
export function delta(a: number | undefined, b: number | undefined, digits = 3): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) {
    return "–";
  }
  const d = a - b;
  const text = Math.abs(d).toFixed(digits);
  if (Number(text) === 0) return `±${text}`;
  return d > 0 ? `+${text}` : `−${text}`;
}

export function value(v: string | number | boolean | null | undefined): string {
  if (v === undefined) return "–";
  if (typeof v === "number")
    return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (v === null) return "null";
  return String(v);
}

export const VERDICT_ICON: Record<CheckVerdict, string> = {
  pass: "✅",
  fail: "❌",
  warn: "⚠️",
  skipped: "⏭️",
};

/** Long free text (error messages) would crowd the tables: keep the start and say it was cut. */
export function clip(text: string, max = 240): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** PSI as the usual reading has it: < 0.1 stable, 0.1–0.25 moderate, more a significant shift. */
function psiReading(value: number): string {
  return value < 0.1 ? "stable" : value <= 0.25 ? "moderate shift" : "significant shift";
}

/** The drift section's rows (figure, value, reading), the same in the card and the report. */
export function driftRows(d: DriftFacts): [string, string, string][] {
  return [
    ["Served sessions (events)", `${int(d.servedSessions)} (${int(d.servedEvents)})`, ""],
    ["Unknown-SKU rate", percent(d.unknownSkuRate, 2), "served SKUs the catalog does not hold"],
    [
      "Outside the training vocabulary",
      percent(d.outOfVocabularyShare, 2),
      "served SKUs training never showed",
    ],
    ["Item-popularity PSI", num(d.popularityPsi), psiReading(d.popularityPsi)],
    ["Item-popularity Jensen–Shannon", num(d.popularityJs), "0 equal … 1 disjoint (bits)"],
    [
      "Session length: training → served",
      `${num(d.sessionLengthTraining, 2)} → ${num(d.sessionLengthServed, 2)}`,
      `PSI ${num(d.sessionLengthPsi)} (${psiReading(d.sessionLengthPsi)})`,
    ],
    [
      "Replay HR@20 (served sessions)",
      estimate(d.replayHr20),
      `${int(d.replayPrefixes)} sessions, next item known`,
    ],
  ];
}
