/** Human-readable summaries for stderr. */
import { textTable } from "../text-table.ts";
import type { ImageReport } from "../compute/images.ts";
import type { ReviewedForCommit } from "../promote/reviewed.ts";
import type { RunDetail, RunSummary } from "../store/runs.ts";
import { describeBlend } from "../model/blend.ts";
import { formatGateTable, formatMetricTable } from "../evaluate/format.ts";
import { failedChecks } from "../evaluate/gates.ts";
import type { EvaluateResult } from "../evaluate/stage.ts";
import type { PromoteResult } from "../promote/result.ts";
import type { MetricValue, RunComparison, StageSide } from "../run/compare.ts";
import type { CardResult } from "../run/results.ts";
import type { TrainResult } from "../train/train.ts";
import type { UploadResult } from "../upload/upload.ts";
import type { ConvertResult } from "../data/convert/convert.ts";
import type { DriftCheckResult } from "../monitor/drift-check.ts";
import type { DriftFacts } from "../../reports/card-data.ts";
import { driftRows } from "../../reports/format.ts";

export function formatUpload(result: UploadResult): string {
  const rows = result.files.map((f) => [
    f.file.split("/").at(-1) ?? f.file,
    f.status,
    f.read,
    f.loaded,
    f.rejected,
    f.skipped,
  ]);
  const t = result.totals;
  rows.push([
    "total",
    result.reconciled ? "reconciled" : "MISMATCH",
    t.read,
    t.loaded,
    t.rejected,
    t.skipped,
  ]);
  const tables = Object.entries(result.tables)
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  return [
    `upload from ${result.source} (${result.dataDir}) into ${result.warehouse}`,
    textTable(["file", "status", "read", "loaded", "rejected", "skipped"], rows),
    `read = loaded + rejected + skipped: ${t.read} = ${t.loaded} + ${t.rejected} + ${t.skipped}`,
    `rows in the raw tables now: ${tables}`,
  ].join("\n");
}

export function formatConvert(result: ConvertResult): string {
  const rows = result.inputs.map((i) => [
    i.file.split("/").at(-1) ?? i.file,
    `${i.role}${i.gzip ? " (gz)" : ""}`,
    i.read,
    i.written,
    i.rejected,
  ]);
  rows.push(["total", "", result.read, result.written, result.rejected]);
  const reasons = Object.entries(result.rejectReasons).map(([why, n]) => `  ${n} ${why}`);
  return [
    `convert ${result.format} into ${result.out} in ${result.seconds.toFixed(1)} s`,
    textTable(["input", "holds", "read", "written", "rejected"], rows),
    `read = written + rejected: ${result.read} = ${result.written} + ${result.rejected}`,
    `wrote ${result.events} events in ${result.sessions} sessions, ${result.items} catalog items`,
    ...(reasons.length > 0 ? [`rejected (${result.files.rejects}):`, ...reasons] : []),
    ...result.warnings.map((w) => `warning: ${w}`),
    `load it with: npx pipeline run --source csv --data ${result.out}`,
  ].join("\n");
}

export function formatRunList(runs: RunSummary[]): string {
  if (runs.length === 0) return "no runs yet: start one with `npx pipeline run`";
  return textTable(
    ["run id", "status", "started", "stages"],
    runs.map((r) => [
      r.runId,
      r.status,
      r.startedAt,
      r.stages.map((s) => `${s.stage}:${s.reusedFrom ? "reused" : s.status}`).join(" "),
    ]),
  );
}

export function formatRunDetail(run: RunDetail): string {
  const lines = [`run ${run.runId}`];
  for (const s of run.stages) {
    lines.push(
      `  ${s.stage}: ${s.status} in ${s.seconds.toFixed(1)} s (${s.startedAt})${s.error ? ` — ${s.error}` : ""}`,
    );
    if (s.reused) {
      lines.push(
        `    reused from run ${s.reused.runId}: same data, code and settings (${s.reused.files} file(s) copied)`,
      );
    }
    if (s.cache) lines.push(`    cache key ${s.cache.key.slice(0, 16)}…`);
    for (const [name, n] of Object.entries(s.counts)) lines.push(`    ${name}: ${n}`);
    for (const input of s.inputs) {
      lines.push(
        `    input ${input.name}${input.sha256 ? ` sha256 ${input.sha256.slice(0, 16)}…` : ""}`,
      );
    }
    if (s.gitSha) lines.push(`    git ${s.gitSha}`);
  }
  lines.push("  artifacts:", ...run.artifacts.map((key) => `    ${key}`));
  return lines.join("\n");
}

export function formatTrain(result: TrainResult): string {
  const rows = result.history.epochs.map((e) => [
    e.epoch === result.history.bestEpoch ? `${e.epoch} *` : String(e.epoch),
    e.loss.toFixed(4),
    e.validationHr20.toFixed(4),
    Math.round(e.sequencesPerSecond),
    e.seconds.toFixed(1),
  ]);
  const skipped = result.backend.skipped.map((s) => `${s.name} (${s.why})`).join("; ");
  return [
    `train on ${result.backend.name} (${result.compute}): ${result.backend.reason}${skipped ? `; skipped ${skipped}` : ""}`,
    `  vocabulary ${result.dataset.vocabularySize} ids; ${result.dataset.splits.train.kept} train examples (${result.training.mode}); preset ${result.preset}: ${result.model.cell.toUpperCase()}(${result.model.hiddenUnits})${result.model.tied ? " tied" : ""}${result.itemFeatures ? `, ${result.itemFeatures} item features` : ""}, loss ${result.training.loss}, batch ${result.training.batchSize}`,
    ...(result.resumedFromEpoch > 0 ? [`  resumed after epoch ${result.resumedFromEpoch}`] : []),
    textTable(["epoch", "loss", "val HR@20", "examples/s", "seconds"], rows),
    `best validation HR@20 ${result.bestValidationHr20.toFixed(4)} at epoch ${result.history.bestEpoch}${result.history.stoppedEarly ? " (stopped early)" : ""}; ${result.seconds.toFixed(1)} s`,
    `blend: ${describeBlend(result.blend.spec)} — validation HR@20 ${result.blend.validation.candidate.hr.toFixed(4)}, MRR@20 ${result.blend.validation.candidate.mrr.toFixed(4)} (the network alone ${result.blend.validation.network.hr.toFixed(4)} / ${result.blend.validation.network.mrr.toFixed(4)})`,
    `artifact: ${result.artifact.prefix}/`,
  ].join("\n");
}

export function formatEvaluate(result: EvaluateResult): string {
  const { report, gates } = result;
  const failed = failedChecks(gates);
  return [
    `evaluate: ${report.counts.evaluatedSessions} test sessions, ${report.counts.prefixes} prefixes; candidate ${report.roles.candidate ?? "none"}${result.productionRunId ? `, production run ${result.productionRunId}` : ", no production model yet"}`,
    formatMetricTable(report),
    formatGateTable(gates),
    gates.passed
      ? `gates: passed (${result.gatesFile})`
      : `gates: FAILED — ${failed.map((c) => c.name).join(", ")} (${result.gatesFile})`,
    `report: ${result.artifacts.report}`,
  ].join("\n");
}

export function formatCard(result: CardResult): string {
  return [
    `model card (${result.cardChars} characters, verdict: ${result.verdict}): ${result.paths.card}`,
    `HTML report: ${result.paths.report}`,
    ...(result.paths.screenshot ? [`screenshot: ${result.paths.screenshot}`] : []),
  ].join("\n");
}

export function formatPromote(result: PromoteResult): string {
  const lines = [`promote (${result.target}): ${result.decision.reason}`];
  if (result.promoted && result.production) {
    lines.push(
      `promoted run ${result.production.runId}${result.production.forced ? " (forced)" : ""}; previous: ${result.production.previousRunId ?? "none"}`,
    );
    if (result.smoke)
      lines.push(`smoke test: ${result.smoke.sessions} sessions, k ${result.smoke.k}: ok`);
    if (result.target === "local") lines.push("serve it with: npx pipeline serve");
  } else {
    lines.push(`not promoted; production stays ${result.production?.runId ?? "empty"}`);
  }
  return lines.join("\n");
}

export function formatImages(images: ImageReport[]): string {
  const rows = images.map((i) => [i.kind, i.dockerfile, i.tag, i.image ?? "(no repository set)"]);
  return textTable(["image", "dockerfile", "tag for this checkout", "runs"], rows);
}

export function formatReviewed(result: ReviewedForCommit): string {
  const lines = [`${result.candidate ? "found" : "none"}: ${result.reason}`];
  for (const run of [...(result.candidate ? [result.candidate] : []), ...result.rejected]) {
    lines.push(`run ${run.runId} (pull request #${run.pullRequest}, evaluated ${run.evaluatedAt})`);
    for (const check of run.checks)
      lines.push(`  ${check.passed ? "ok  " : "FAIL"} ${check.detail}`);
  }
  return lines.join("\n");
}

const short = (hash: string | null | undefined) => (hash ? hash.slice(0, 12) : "–");
const fixed = (v: number | null | undefined, digits = 4) =>
  v === null || v === undefined ? "n/a" : v.toFixed(digits);
const signed = (v: number | null | undefined) =>
  v === null || v === undefined ? "n/a" : `${v >= 0 ? "+" : ""}${v.toFixed(4)}`;
const withInterval = (v: MetricValue | null) =>
  v
    ? `${fixed(v.value)}${v.low !== undefined ? ` [${fixed(v.low)}, ${fixed(v.high)}]` : ""}`
    : "n/a";

function stageCell(side: StageSide | null): string {
  if (!side) return "not run";
  const key = side.cacheKey ? ` (key ${short(side.cacheKey)})` : "";
  return `${side.reusedFrom ? `reused from ${side.reusedFrom}` : side.status}${key}`;
}

export function formatComparison(c: RunComparison): string {
  const lines = [`compare run A ${c.a} with run B ${c.b}`, "", "settings"];
  const { from, differences } = c.settings;
  if (!from.a || !from.b) {
    lines.push(
      `  not recorded in run ${!from.a ? c.a : c.b} (its stage records predate settings snapshots)`,
    );
  } else if (differences.length === 0) {
    lines.push("  the same in both runs");
  } else {
    lines.push(
      textTable(
        ["setting", "A", "B"],
        differences.map((d) => [d.key, String(d.a ?? "(not set)"), String(d.b ?? "(not set)")]),
      ),
    );
  }
  lines.push("", "data");
  lines.push(
    c.data.length
      ? textTable(
          ["stage", "input", "sha256 A", "sha256 B", "verdict"],
          c.data.map((d) => [d.stage, d.name, short(d.a), short(d.b), d.verdict]),
        )
      : "  neither run recorded upload or transform inputs",
  );
  lines.push(
    "",
    "stages (equal cache keys: equal inputs, code and settings)",
    textTable(
      ["stage", "A", "B", "keys"],
      c.stages.map((s) => [
        s.stage,
        stageCell(s.a),
        stageCell(s.b),
        s.sameKey === null ? "–" : s.sameKey ? "equal" : "different",
      ]),
    ),
  );
  lines.push("", "metrics (intervals in brackets)");
  lines.push(
    c.metrics.length
      ? textTable(
          ["recommender", "metric", "A", "B", "B − A"],
          c.metrics.map((m) => [
            m.names && m.names.a !== m.names.b
              ? `${m.recommender} (${m.names.a ?? "none"} → ${m.names.b ?? "none"})`
              : m.names
                ? `${m.recommender} (${m.names.a ?? "none"})`
                : m.recommender,
            m.metric.toUpperCase(),
            withInterval(m.a),
            withInterval(m.b),
            signed(m.difference),
          ]),
        )
      : "  neither run was evaluated",
  );
  const p = c.paired;
  lines.push(
    "",
    p.available
      ? `candidate B − A on the same ${p.prefixes} test prefixes (split ${short(p.split)}), paired bootstrap ${Math.round((p.deltas[0]?.level ?? 0.95) * 100)}%: ${p.deltas
          .map(
            (d) =>
              `${d.metric.toUpperCase()} ${signed(d.difference)} [${signed(d.low)}, ${signed(d.high)}]`,
          )
          .join(", ")}`
      : `no paired interval: ${p.reason}`,
  );
  return lines.join("\n");
}

/** `pipeline drift`: the figures, then each drift gate's verdict. */
export function formatDrift(result: DriftCheckResult, facts: DriftFacts): string {
  return [
    `drift of production traffic, the model of run ${result.productionRunId}:`,
    textTable(["figure", "value", "reading"], driftRows(facts)),
    ...result.gates.checks.map((c) => `  ${c.verdict.toUpperCase()} ${c.name}: ${c.detail}`),
    `report: ${result.report}`,
  ].join("\n");
}
