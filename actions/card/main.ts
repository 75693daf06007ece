/**
 * The card action: renders the run's card (the pipeline's card stage), then writes it to
 * the job summary and to the pull request's one sticky comment (see action.yml).
 */
import * as core from "@actions/core";
import { PipelineError } from "../../pipeline/errors.ts";
import { runStageAction } from "../common/run-stage.ts";
import { cardTarget, publishModelCard } from "./publish.ts";

await runStageAction("card", {
  outputs: (r) => ({
    card: r.string("card"),
    html: r.string("report"),
    verdict: r.string("verdict"),
  }),
  after: async (r, ctx) => {
    const key = r.string("card");
    const bytes = key ? await ctx.store.get(key) : undefined;
    if (!key || !bytes) {
      throw new PipelineError(
        `the card stage of run ${ctx.runId} left no card in ${ctx.store.location}`,
        1,
        "Check the card stage's log above.",
      );
    }
    const published = await publishModelCard(Buffer.from(bytes).toString("utf8"), {
      token: core.getInput("github-token"),
      target: cardTarget(core.getInput("issue-number"), process.env),
      ...(process.env.GITHUB_API_URL ? { apiUrl: process.env.GITHUB_API_URL } : {}),
      reporter: ctx.reporter,
    });
    return {
      "comment-posted": published.commentPosted,
      "comment-url": published.commentUrl,
    };
  },
});
