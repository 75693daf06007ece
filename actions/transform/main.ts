/** The transform action: dbt build of dbt/ on the warehouse (see action.yml). */
import { runStageAction } from "../common/run-stage.ts";

await runStageAction("transform", {
  outputs: (r) => ({
    engine: r.string("engine"),
    "models-built": r.number("summary.models.success"),
    "tests-passed": r.number("summary.tests.pass"),
    "tests-warned": r.number("summary.tests.warn"),
    "tests-failed": r.number("summary.tests.fail"),
    manifest: r.string("artifacts.manifest"),
    "train-sessions": r.number("splits.train"),
  }),
  summary: (r) => {
    const failed = r.get("failedTests");
    if (!Array.isArray(failed) || failed.length === 0) return undefined;
    const lines = failed.map((test: unknown) => {
      const t = test as { name?: unknown; status?: unknown; failures?: unknown };
      return `- \`${String(t.name)}\`: ${String(t.status)} (${String(t.failures ?? "?")} rows)`;
    });
    return `**dbt tests that did not pass**\n\n${lines.join("\n")}`;
  },
});
