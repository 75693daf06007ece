/**
 * Gates: the checks that decide whether a candidate model may ship, declared in a versioned YAML
 * file (`gates.yml` at the repository root documents every key) and judged against an
 * EvaluationReport.
 *
 * Kinds:
 * - absolute: a metric of the candidate ≥ `min` or ≤ `max`.
 * - relative-to-best-baseline: metric ≥ `factor` × the best baseline's value.
 * - significantly-better: the candidate beats a reference — the best baseline on the metric, or a
 *   recommender named by `than` (the ablation) — beyond the noise: the lower end of the paired
 *   bootstrap interval of candidate − reference, on the same test sessions, is above 0.
 * - relative-to-production: no regression against the production model beyond `tolerance`,
 *   judged on the paired bootstrap interval of the difference d = candidate − production:
 *   fail when the whole interval lies below −tolerance (a regression the data are confident
 *   of), warn when d < −tolerance but the interval reaches above it (within noise), else pass.
 *   So a gate never flips on noise: a candidate fails only on a regression its test set shows.
 * - slice-floor: no slice of at least `min_count` prefixes with HR@20 below `min`.
 * - drift: a drift figure of production traffic (pipeline/monitor/drift.ts) ≤ `max`. Skipped
 *   without served traffic. Drift describes the traffic, not the candidate: in a candidate's
 *   evaluation a failed drift check is a warning; `pipeline drift` judges them with `blocking`.
 * A failed check with `blocking: false` is a warning; a check that has nothing to judge (no
 * production model, no baseline, no slice big enough) is skipped.
 */
import { readFile } from "node:fs/promises";
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node as YamlNode,
} from "yaml";
import { z } from "zod";
import { InputError } from "../errors.ts";
import {
  INTERVAL_METRICS,
  METRIC_NAMES,
  type EvaluationReport,
  type MetricName,
  type RecommenderReport,
} from "./evaluate.ts";
import type { Figure } from "./metrics.ts";
import { SLICE_FAMILIES } from "./suite.ts";
import { DRIFT_METRICS, type DriftMetric, type DriftReport } from "../monitor/drift.ts";

/** Figures where more is better: the only ones a baseline factor makes sense for. */
const HIGHER_IS_BETTER = METRIC_NAMES.filter(
  (m) => /^(last_)?(hr|mrr)@/.test(m) || m.startsWith("coverage@"),
) as [MetricName, ...MetricName[]];

/** The upload's data sources (data.source): a floor calibrated on one means little on another. */
export const DATA_SOURCES = ["synthetic", "csv", "download"] as const;

const common = {
  name: z.string().min(1),
  /** A failed blocking check fails the stage (exit 1); a non-blocking one is a warning. */
  blocking: z.boolean().default(true),
  description: z.string().optional(),
  /** The data sources the check applies to; skipped for others (default: all). */
  sources: z.array(z.enum(DATA_SOURCES)).min(1).optional(),
};

const absoluteGate = z
  .strictObject({
    ...common,
    kind: z.literal("absolute"),
    metric: z.enum(METRIC_NAMES),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .refine((g) => (g.min === undefined) !== (g.max === undefined), {
    message: "give exactly one of min or max",
    path: ["min"],
  });

const baselineGate = z.strictObject({
  ...common,
  kind: z.literal("relative-to-best-baseline"),
  metric: z.enum(HIGHER_IS_BETTER),
  factor: z.number().positive(),
  /** Which baselines compete (names as in the report); default: every recommender of kind baseline. */
  baselines: z.array(z.string().min(1)).min(1).optional(),
});

const betterGate = z.strictObject({
  ...common,
  kind: z.literal("significantly-better"),
  metric: z.enum(INTERVAL_METRICS),
  /** `best-baseline` (the baseline that scores highest on the metric) or a recommender's name. */
  than: z.string().min(1).default("best-baseline"),
});

const productionGate = z.strictObject({
  ...common,
  kind: z.literal("relative-to-production"),
  metric: z.enum(INTERVAL_METRICS),
  tolerance: z.number().min(0).default(0),
});

const sliceGate = z.strictObject({
  ...common,
  kind: z.literal("slice-floor"),
  min: z.number().min(0).max(1),
  min_count: z.number().int().positive().default(100),
  families: z.array(z.enum(SLICE_FAMILIES)).min(1).optional(),
});

const driftGate = z.strictObject({
  ...common,
  kind: z.literal("drift"),
  metric: z.enum(Object.keys(DRIFT_METRICS) as [DriftMetric, ...DriftMetric[]]),
  max: z.number().min(0),
});

const gateSchema = z.discriminatedUnion("kind", [
  absoluteGate,
  baselineGate,
  betterGate,
  productionGate,
  sliceGate,
  driftGate,
]);

/** The keys each kind of gate takes, for the message about an unknown one. */
const GATE_KEYS: Record<string, string[]> = Object.fromEntries(
  [absoluteGate, baselineGate, betterGate, productionGate, sliceGate, driftGate].map((schema) => [
    schema.shape.kind.value,
    Object.keys(schema.shape),
  ]),
);

const configSchema = z.strictObject({
  version: z.literal(1),
  gates: z.array(gateSchema),
});

export type GateConfig = z.infer<typeof gateSchema>;
export type GateKind = GateConfig["kind"];
export type GatesConfig = z.infer<typeof configSchema>;

export type Verdict = "pass" | "fail" | "warn" | "skipped";

export interface GateCheck {
  name: string;
  kind: GateKind;
  /** The metric judged; "hr@20 by slice" for slice floors. */
  metric: string;
  threshold: number | null;
  value: number | null;
  verdict: Verdict;
  blocking: boolean;
  detail: string;
}

export interface GateResult {
  /** False when a blocking check failed. */
  passed: boolean;
  candidate: string | null;
  checks: GateCheck[];
}

const HINT = "gates.yml at the repository root documents every key and kind";

function fieldName(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    out += typeof part === "number" ? `[${part}]` : `${out ? "." : ""}${String(part)}`;
  }
  return out;
}

/** The deepest node on `path` (the parent map when the last key is missing). */
function nodeAt(doc: Document, path: readonly PropertyKey[]): YamlNode | null {
  let node = doc.contents as YamlNode | null;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (!pair) return node;
      node = (pair.value as YamlNode | null) ?? (pair.key as YamlNode);
    } else if (isSeq(node) && typeof key === "number" && node.items[key]) {
      node = node.items[key] as YamlNode;
    } else {
      return node;
    }
  }
  return node;
}

/** The key node of `key` in the map at `path`, for errors about the key itself. */
function keyNodeAt(doc: Document, path: readonly PropertyKey[], key: string): YamlNode | null {
  const map = nodeAt(doc, path);
  if (!isMap(map)) return map;
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  return (pair?.key as YamlNode | undefined) ?? map;
}

function lineOf(node: YamlNode | null, lines: LineCounter): { line: number; column: number } {
  const offset = node?.range?.[0] ?? 0;
  const { line, col } = lines.linePos(offset);
  return { line, column: col };
}

/** " (… takes: a, b, c)" for the object at `path` of the parsed file, when it is known. */
function allowedKeys(value: unknown, path: readonly PropertyKey[]): string {
  if (path.length === 0) return ` (the file takes: ${Object.keys(configSchema.shape).join(", ")})`;
  let node: unknown = value;
  for (const key of path) node = (node as Record<PropertyKey, unknown> | null)?.[key];
  const kind = (node as { kind?: unknown } | null)?.kind;
  const keys = typeof kind === "string" ? GATE_KEYS[kind] : undefined;
  return keys ? ` (a gate of kind ${kind} takes: ${keys.join(", ")})` : "";
}

/** Parses and validates a gate file's text; `file` names it in errors. */
export function parseGates(text: string, file: string): GatesConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) {
    const { line, col } = lines.linePos(syntax.pos[0]);
    throw new InputError(
      `not valid YAML: ${syntax.message.split("\n")[0]}`,
      { file, line, column: col },
      HINT,
    );
  }
  if (doc.contents === null) {
    throw new InputError(
      "the gate file is empty: expected `version: 1` and a `gates:` list",
      { file, line: 1 },
      HINT,
    );
  }
  const result = configSchema.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue;
    let path: PropertyKey[] = [...issue.path];
    let node: YamlNode | null;
    let message = issue.message;
    if (issue.code === "unrecognized_keys") {
      const key = issue.keys[0] as string;
      node = keyNodeAt(doc, path, key);
      path = [...path, key];
      message = `unknown key "${key}"${allowedKeys(doc.toJS(), issue.path)}`;
    } else {
      node = nodeAt(doc, path);
    }
    throw new InputError(message, { file, ...lineOf(node, lines), field: fieldName(path) }, HINT);
  }
  const seen = new Set<string>();
  result.data.gates.forEach((gate, i) => {
    if (seen.has(gate.name)) {
      const path = ["gates", i, "name"];
      throw new InputError(
        `two gates are named "${gate.name}"`,
        { file, ...lineOf(nodeAt(doc, path), lines), field: fieldName(path) },
        "give every gate its own name: the verdicts are reported by name",
      );
    }
    seen.add(gate.name);
  });
  return result.data;
}

export async function loadGates(path: string): Promise<GatesConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new InputError(
      `cannot read the gate file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      { file: path },
      "point the evaluation at a gate file, or restore gates.yml at the repository root",
    );
  }
  return parseGates(text, path);
}

const fmt = (value: number | null): string => (value === null ? "n/a" : value.toFixed(4));

function describe(metric: string, f: Figure): string {
  const ci = f.ci
    ? `, ${Math.round(f.ci.level * 100)}% CI [${fmt(f.ci.low)}, ${fmt(f.ci.high)}]`
    : "";
  return `${metric} = ${fmt(f.value)} (n = ${f.n}${ci})`;
}

function judge(
  gate: GateConfig,
  report: EvaluationReport,
  candidate: RecommenderReport,
  drift: DriftReport | undefined,
): Omit<GateCheck, "name" | "kind" | "blocking"> {
  switch (gate.kind) {
    case "drift":
      return judgeDrift(gate, drift);
    case "absolute": {
      const f = candidate.metrics[gate.metric];
      const threshold = (gate.min ?? gate.max) as number;
      const op = gate.min !== undefined ? "≥" : "≤";
      const base = { metric: gate.metric, threshold, value: f.value };
      if (f.value === null) {
        return { ...base, verdict: "skipped", detail: `${gate.metric} has no samples` };
      }
      const ok = gate.min !== undefined ? f.value >= gate.min : f.value <= threshold;
      return {
        ...base,
        verdict: ok ? "pass" : "fail",
        detail: `${describe(gate.metric, f)} ${ok ? "" : "not "}${op} ${threshold}`,
      };
    }
    case "relative-to-best-baseline": {
      const wanted = gate.baselines;
      const pool = report.recommenders.filter((r) =>
        wanted ? wanted.includes(r.name) : r.kind === "baseline",
      );
      const missing = wanted?.filter((name) => !pool.some((r) => r.name === name)) ?? [];
      const scored = pool.filter((r) => r.metrics[gate.metric].value !== null);
      const value = candidate.metrics[gate.metric].value;
      if (scored.length === 0 || value === null) {
        return {
          metric: gate.metric,
          threshold: null,
          value,
          verdict: "skipped",
          detail:
            scored.length === 0 ? "no baseline was evaluated" : `${gate.metric} has no samples`,
        };
      }
      const best = scored.reduce((a, b) =>
        (b.metrics[gate.metric].value as number) > (a.metrics[gate.metric].value as number) ? b : a,
      );
      const bestValue = best.metrics[gate.metric].value as number;
      const threshold = gate.factor * bestValue;
      const ok = value >= threshold;
      const paired = report.comparisons.find(
        (c) =>
          c.candidate === candidate.name && c.reference === best.name && c.metric === gate.metric,
      );
      const diff = paired?.ci
        ? `; paired difference ${fmt(paired.difference)}, CI [${fmt(paired.ci.low)}, ${fmt(paired.ci.high)}]`
        : "";
      return {
        metric: gate.metric,
        threshold,
        value,
        verdict: ok ? "pass" : "fail",
        detail:
          `${fmt(value)} ${ok ? "≥" : "<"} ${gate.factor} × ${best.name} (${fmt(bestValue)})${diff}` +
          (missing.length ? `; not evaluated: ${missing.join(", ")}` : ""),
      };
    }
    case "significantly-better": {
      const value = candidate.metrics[gate.metric].value;
      const baselines = report.recommenders.filter(
        (r) => r.kind === "baseline" && r.metrics[gate.metric].value !== null,
      );
      const reference =
        gate.than === "best-baseline"
          ? baselines.reduce<RecommenderReport | undefined>(
              (a, b) =>
                !a ||
                (b.metrics[gate.metric].value as number) > (a.metrics[gate.metric].value as number)
                  ? b
                  : a,
              undefined,
            )
          : report.recommenders.find((r) => r.name === gate.than);
      const paired = report.comparisons.find(
        (c) =>
          c.candidate === candidate.name &&
          c.reference === reference?.name &&
          c.metric === gate.metric,
      );
      const referenceValue = reference?.metrics[gate.metric].value ?? null;
      if (
        !reference ||
        !paired?.ci ||
        paired.difference === null ||
        value === null ||
        referenceValue === null
      ) {
        return {
          metric: gate.metric,
          threshold: null,
          value,
          verdict: "skipped",
          detail: reference
            ? `${gate.metric} has no samples`
            : gate.than === "best-baseline"
              ? "no baseline was evaluated"
              : `${gate.than} was not evaluated`,
        };
      }
      const { low, high } = paired.ci;
      const ok = low > 0;
      const ratio = referenceValue > 0 ? ` (×${(value / referenceValue).toFixed(3)})` : "";
      return {
        metric: gate.metric,
        threshold: referenceValue,
        value,
        verdict: ok ? "pass" : "fail",
        detail: `${fmt(value)} vs ${reference.name} ${fmt(referenceValue)}${ratio}: paired difference ${fmt(paired.difference)}, ${Math.round(paired.ci.level * 100)}% CI [${fmt(low)}, ${fmt(high)}]${ok ? " > 0" : ", not above 0"}`,
      };
    }
    case "relative-to-production": {
      const production = report.recommenders.find((r) => r.name === report.roles.production);
      const value = candidate.metrics[gate.metric].value;
      if (!production) {
        return {
          metric: gate.metric,
          threshold: null,
          value,
          verdict: "skipped",
          detail: "no production model was evaluated",
        };
      }
      const prod = production.metrics[gate.metric].value;
      const paired = report.comparisons.find(
        (c) =>
          c.candidate === candidate.name &&
          c.reference === production.name &&
          c.metric === gate.metric,
      );
      if (prod === null || value === null || !paired?.ci || paired.difference === null) {
        return {
          metric: gate.metric,
          threshold: null,
          value,
          verdict: "skipped",
          detail: `${gate.metric} has no samples`,
        };
      }
      const threshold = prod - gate.tolerance;
      const d = paired.difference;
      const { low, high } = paired.ci;
      const interval = `difference ${fmt(d)}, CI [${fmt(low)}, ${fmt(high)}], tolerance ${gate.tolerance}`;
      let verdict: Verdict = "pass";
      let why = "no regression beyond the tolerance";
      if (high < -gate.tolerance) {
        verdict = "fail";
        why = "a regression beyond the tolerance, outside the noise";
      } else if (d < -gate.tolerance) {
        verdict = "warn";
        why = "below the tolerance, but within the noise";
      }
      return {
        metric: gate.metric,
        threshold,
        value,
        verdict,
        detail: `vs ${production.name} ${fmt(prod)}: ${interval}: ${why}`,
      };
    }
    case "slice-floor": {
      const families = gate.families ?? SLICE_FAMILIES;
      const big = candidate.slices.filter(
        (s) => families.includes(s.family) && s.n >= gate.min_count && s.hr20 !== null,
      );
      const metric = "hr@20 by slice";
      if (big.length === 0) {
        return {
          metric,
          threshold: gate.min,
          value: null,
          verdict: "skipped",
          detail: `no slice holds ${gate.min_count} prefixes`,
        };
      }
      const worst = big.reduce((a, b) => ((b.hr20 as number) < (a.hr20 as number) ? b : a));
      const below = big.filter((s) => (s.hr20 as number) < gate.min).length;
      return {
        metric,
        threshold: gate.min,
        value: worst.hr20,
        verdict: below === 0 ? "pass" : "fail",
        detail: `worst ${worst.family}=${worst.slice}: ${fmt(worst.hr20)} (n = ${worst.n}); ${below} of ${big.length} slices of ≥ ${gate.min_count} prefixes below ${gate.min}`,
      };
    }
  }
}

function judgeDrift(
  gate: Extract<GateConfig, { kind: "drift" }>,
  drift: DriftReport | undefined,
): Omit<GateCheck, "name" | "kind" | "blocking"> {
  const base = { metric: gate.metric, threshold: gate.max };
  if (!drift || drift.servedEvents === 0) {
    return { ...base, value: null, verdict: "skipped", detail: "no production traffic was loaded" };
  }
  const value = DRIFT_METRICS[gate.metric](drift);
  const ok = value <= gate.max;
  return {
    ...base,
    value,
    verdict: ok ? "pass" : "fail",
    detail: `${gate.metric} = ${fmt(value)} over ${drift.servedEvents} served events ${ok ? "≤" : ">"} ${gate.max}`,
  };
}

/** A judged gate as a check: a failure that may not block is a warning. */
function settle(
  gate: GateConfig,
  judged: Omit<GateCheck, "name" | "kind" | "blocking">,
  warnOnly: boolean,
): GateCheck {
  const verdict = judged.verdict === "fail" && warnOnly ? "warn" : judged.verdict;
  return { name: gate.name, kind: gate.kind, blocking: gate.blocking, ...judged, verdict };
}

/**
 * The drift checks alone, with their `blocking` flag honoured: what `pipeline drift` decides a
 * retraining on.
 */
export function evaluateDriftGates(config: GatesConfig, drift: DriftReport): GateResult {
  const checks = config.gates
    .filter((gate) => gate.kind === "drift")
    .map((gate) => settle(gate, judgeDrift(gate, drift), !gate.blocking));
  return { passed: !checks.some((c) => c.verdict === "fail"), candidate: null, checks };
}

/** The checks that failed; all blocking, since a non-blocking check that fails is a "warn". */
export function failedChecks(result: GateResult): GateCheck[] {
  return result.checks.filter((c) => c.verdict === "fail");
}

export function evaluateGates(
  config: GatesConfig,
  report: EvaluationReport,
  context: { source?: (typeof DATA_SOURCES)[number]; drift?: DriftReport } = {},
): GateResult {
  const candidate = report.recommenders.find((r) => r.name === report.roles.candidate);
  const checks = config.gates.map((gate): GateCheck => {
    const head = { name: gate.name, kind: gate.kind, blocking: gate.blocking };
    const skipped = (detail: string): GateCheck => ({
      ...head,
      metric: gate.kind === "slice-floor" ? "hr@20 by slice" : gate.metric,
      threshold: null,
      value: null,
      verdict: "skipped",
      detail,
    });
    if (gate.sources && context.source && !gate.sources.includes(context.source)) {
      return skipped(
        `applies to ${gate.sources.join(", ")} data only, this run's is ${context.source}: set a floor for your data in gates.yml (sources: [${context.source}])`,
      );
    }
    if (!candidate) return skipped("no candidate model was evaluated");
    // Drift is the traffic's, not the candidate's: it never blocks a candidate.
    const warnOnly = !gate.blocking || gate.kind === "drift";
    return settle(gate, judge(gate, report, candidate, context.drift), warnOnly);
  });
  return {
    passed: !checks.some((c) => c.verdict === "fail"),
    candidate: candidate?.name ?? null,
    checks,
  };
}
