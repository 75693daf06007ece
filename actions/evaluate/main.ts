/** The evaluate action: baselines, the behavioral suite and the gates (see action.yml). */
import type { EvaluateResult } from "../../pipeline/evaluate/stage.ts";
import { checkResult } from "../../reports/from-run.ts";
import { gateTable } from "../../reports/markdown.ts";
import { runStageAction } from "../common/run-stage.ts";
import type { ResultFields } from "../common/result-fields.ts";

/** HR@20 of the candidate (the run's model) as the report measured it. */
function candidateHr20(r: ResultFields<EvaluateResult>): number | undefined {
  const candidate = r.string("report.roles.candidate");
  const recommenders = r.get("report.recommenders");
  if (!candidate || !Array.isArray(recommenders)) return undefined;
  const index = recommenders.findIndex((rec: { name?: unknown }) => rec.name === candidate);
  return index < 0 ? undefined : r.number(`report.recommenders.${index}.metrics.hr@20.value`);
}

function gateSummary(r: ResultFields<EvaluateResult>): string | undefined {
  const checks = r.get("gates.checks");
  // A failed stage's partial result may hold no checks; those it holds are the stage's own.
  if (!Array.isArray(checks) || checks.length === 0) return undefined;
  return `**Gates**\n\n${gateTable(checks.map(checkResult))}`;
}

await runStageAction("evaluate", {
  outputs: (r) => ({
    passed: r.boolean("gates.passed"),
    "candidate-hr20": candidateHr20(r),
    "production-run-id": r.string("productionRunId"),
    report: r.string("artifacts.report"),
    gates: r.string("artifacts.gates"),
  }),
  summary: gateSummary,
});
