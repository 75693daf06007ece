/**
 * The pipeline's Reporter for a GitHub Actions log: info and warnings through @actions/core
 * (warnings become annotations), no progress bars (a log is not a terminal), one line when a
 * long step ends so the log still shows how much it did.
 */
import * as core from "@actions/core";
import type { Reporter } from "../../pipeline/reporter.ts";

export function actionReporter(): Reporter {
  return {
    info(message) {
      core.info(message);
    },
    warn(message) {
      core.warning(message);
    },
    progress(label, _total, items = "rows") {
      let rows = 0;
      return {
        update(_done, processed) {
          rows = processed;
        },
        stop() {
          core.info(`${label}: ${rows} ${items}`);
        },
      };
    },
  };
}
