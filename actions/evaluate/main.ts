/** The evaluate action: baselines, the behavioral suite and the gates (see action.yml). */
import { markdownTable } from "markdown-table";
import { runStageAction } from "../common/run-stage.ts";
import type { ResultFields } from "../common/result-fields.ts";

const VERDICT_ICON: Record<string, string> = { pass: "✅", warn: "⚠️", fail: "❌", skipped: "⏭️" };

/** HR@20 of the candidate (the run's model) as the report measured it. */
function candidateHr20(r: ResultFields): number | undefined {
  const candidate = r.string("report.roles.candidate");
  const recommenders = r.get("report.recommenders");
  if (!candidate || !Array.isArray(recommenders)) return undefined;
  const index = recommenders.findIndex((rec: { name?: unknown }) => rec.name === candidate);
  return index < 0 ? undefined : r.number(`report.recommenders.${index}.metrics.hr@20.value`);
}

function gateTable(r: ResultFields): string | undefined {
  const checks = r.get("gates.checks");
  if (!Array.isArray(checks) || checks.length === 0) return undefined;
  const cell = (value: unknown) => (typeof value === "number" ? value.toFixed(4) : "—");
  const rows = checks.map((check: Record<string, unknown>) => [
    `${VERDICT_ICON[String(check.verdict)] ?? ""} ${String(check.verdict)}`,
    String(check.name),
    String(check.metric),
    cell(check.value),
    cell(check.threshold),
    check.blocking ? "yes" : "no",
  ]);
  return `**Gates**\n\n${markdownTable([["verdict", "gate", "metric", "value", "threshold", "blocking"], ...rows])}`;
}

await runStageAction("evaluate", {
  outputs: (r) => ({
    passed: r.boolean("gates.passed"),
    "candidate-hr20": candidateHr20(r),
    "production-run-id": r.string("productionRunId"),
    report: r.string("artifacts.report"),
    gates: r.string("artifacts.gates"),
  }),
  summary: gateTable,
});
