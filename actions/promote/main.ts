/** The promote action: champion/challenger, then deploy (see action.yml). */
import { runStageAction } from "../common/run-stage.ts";

await runStageAction("promote", {
  outputs: (r) => ({
    promoted: r.boolean("promoted"),
    verdict: r.string("decision.verdict"),
    target: r.string("target"),
    endpoint: r.string("production.deployment.endpoint"),
    "production-run-id": r.string("production.runId"),
    "rolled-back-to": r.string("rolledBackTo"),
  }),
  summary: (r) => {
    const reason = r.string("decision.reason");
    return reason ? `**Decision:** ${reason}` : undefined;
  },
});
