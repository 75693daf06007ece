/**
 * Where the model card goes once rendered: always the job summary (the only place a fork pull
 * request's read-only token can write), and the pull request's sticky comment when there is a
 * pull request and a token. The publishing itself is reports/github.ts; this decides the target.
 */
import { readFileSync } from "node:fs";
import { InputError, PipelineError } from "../../pipeline/errors.ts";
import type { Reporter } from "../../pipeline/reporter.ts";
import { createGitHubClient, publishCard, writeJobSummary } from "../../reports/github.ts";

export interface CardTarget {
  owner: string;
  repo: string;
  issueNumber: number;
}

/**
 * The pull request to comment on: the `issue-number` input, else the triggering event's pull
 * request (or issue); undefined on a push or a manual run, which have none.
 */
export function cardTarget(input: string, env: NodeJS.ProcessEnv): CardTarget | undefined {
  const repository = env.GITHUB_REPOSITORY ?? "";
  const [owner, repo] = repository.split("/");
  let issueNumber: number | undefined;
  if (input !== "") {
    if (!/^[1-9]\d*$/.test(input)) {
      throw new InputError(
        `invalid issue number "${input}"`,
        { field: "issue-number" },
        "Pass a pull request number, or leave it empty to use the triggering pull request.",
      );
    }
    issueNumber = Number(input);
  } else if (env.GITHUB_EVENT_PATH) {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, "utf8")) as {
      pull_request?: { number?: number };
      issue?: { number?: number };
    };
    issueNumber = event.pull_request?.number ?? event.issue?.number;
  }
  if (issueNumber === undefined) return undefined;
  if (!owner || !repo) {
    throw new PipelineError(
      `GITHUB_REPOSITORY is "${repository}", not owner/name`,
      2,
      "The card action comments on pull requests only inside GitHub Actions.",
    );
  }
  return { owner, repo, issueNumber };
}

export interface CardPublication {
  summary: boolean;
  commentPosted: boolean;
  commentUrl?: string;
}

export async function publishModelCard(
  body: string,
  options: { token: string; target: CardTarget | undefined; apiUrl?: string; reporter: Reporter },
): Promise<CardPublication> {
  const summary = await writeJobSummary(body);
  if (!summary.written)
    options.reporter.warn(`model card not in the job summary: ${summary.reason}`);
  if (!options.target) {
    options.reporter.info("no pull request to comment on: the card is in the job summary");
    return { summary: summary.written, commentPosted: false };
  }
  if (options.token === "") {
    options.reporter.warn("no github-token: the card is in the job summary only");
    return { summary: summary.written, commentPosted: false };
  }
  const result = await publishCard({
    octokit: createGitHubClient(options.token, options.apiUrl),
    ...options.target,
    body,
    reporter: options.reporter,
  });
  return {
    summary: summary.written,
    commentPosted: result.posted,
    ...(result.posted && result.url ? { commentUrl: result.url } : {}),
  };
}
