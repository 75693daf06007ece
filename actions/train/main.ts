/** The train action: the next-item model, on the runner or on AWS Batch (see action.yml). */
import { join } from "node:path";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { trainStage } from "../../pipeline/run/stages.ts";
import { stageKey } from "../../pipeline/store/runs.ts";
import { runStageAction } from "../common/run-stage.ts";
import { withCheckpointCache } from "./checkpoint-cache.ts";

await runStageAction("train", {
  // With a folder store the checkpoints would go with the runner: the Actions cache keeps them
  // for a re-run of this job (an S3 store, and a Batch job's, keep their own).
  run: (ctx) =>
    ctx.config.store.startsWith("s3://") || ctx.config.train.compute !== "local"
      ? trainStage(ctx)
      : withCheckpointCache(
          {
            api: cache,
            dir: join(ctx.config.store, ...stageKey(ctx.runId, "train", "checkpoint").split("/")),
            runId: ctx.runId,
            log: (line) =>
              line.startsWith("warning: ") ? core.warning(line.slice(9)) : core.info(line),
          },
          () => trainStage(ctx),
        ),
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
