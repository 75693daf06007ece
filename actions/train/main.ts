/** The train action: the next-item model, on the runner or on AWS Batch (see action.yml). */
import { runStageAction } from "../common/run-stage.ts";

await runStageAction("train", {
  outputs: (r) => ({
    artifact: r.string("artifact.prefix"),
    backend: r.string("backend.name"),
    compute: r.string("compute"),
    "validation-hr20": r.number("bestValidationHr20"),
    "epochs-run": r.number("epochsRun"),
  }),
  summary: (r) => {
    const reason = r.string("backend.reason");
    return reason ? `Backend \`${r.string("backend.name")}\`: ${reason}` : undefined;
  },
});
