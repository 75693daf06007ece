/** The upload action: data files into the warehouse's raw tables (see action.yml). */
import { runStageAction } from "../common/run-stage.ts";

await runStageAction("upload", {
  outputs: (r) => ({
    source: r.string("source"),
    "rows-read": r.number("totals.read"),
    "rows-loaded": r.number("totals.loaded"),
    "rows-rejected": r.number("totals.rejected"),
    "rows-skipped": r.number("totals.skipped"),
    reconciled: r.boolean("reconciled"),
  }),
  failure: (r) =>
    r.boolean("reconciled") === false
      ? "row counts do not reconcile: read ≠ loaded + rejected + skipped for at least one file (see the upload log group)"
      : undefined,
});
