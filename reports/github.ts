/**
 * Publishing the model card on GitHub: one sticky comment per pull request (found by a hidden
 * marker, updated on every push, never duplicated) and the job summary.
 *
 * Posting is best effort where GitHub says no for reasons the PR author cannot fix: a fork PR's
 * token is read-only (403), or the rate limit does not reset soon enough. Then the result says
 * `posted: false` with the reason, a warning is printed, and the caller still writes the job
 * summary. Errors that mean the setup is wrong (bad token, wrong repository or PR number) throw.
 */
import { statSync } from "node:fs";
import * as core from "@actions/core";
import { getOctokit } from "@actions/github";
import { PipelineError } from "../pipeline/errors.ts";
import type { Reporter } from "../pipeline/reporter.ts";
import { CARD_MARKER } from "./markdown.ts";

export type GitHubClient = ReturnType<typeof getOctokit>;

/** An Octokit for the token; `baseUrl` points it at GitHub Enterprise or a test stand-in. */
export function createGitHubClient(token: string, baseUrl?: string): GitHubClient {
  return getOctokit(token, baseUrl ? { baseUrl } : {});
}

export interface PublishOptions {
  octokit: GitHubClient;
  owner: string;
  repo: string;
  /** The pull request's number (PR comments are issue comments). */
  issueNumber: number;
  /** The card; the marker is prepended when it does not already start with it. */
  body: string;
  marker?: string;
  /** Whose comment is the card: the token's bot (default github-actions[bot]). */
  author?: string;
  reporter?: Pick<Reporter, "warn" | "info">;
  /** Retries after a rate limit or a 5xx, per request (default 4). */
  retries?: number;
  /** Longest wait for a rate limit to reset before giving up (default 60 s). */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type PublishResult =
  | { posted: true; action: "created" | "updated"; commentId: number; url?: string }
  | { posted: false; reason: string; status?: number };

interface HttpError {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined> };
}

function httpError(error: unknown): HttpError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as { status?: unknown }).status;
  return typeof status === "number" ? (error as HttpError) : undefined;
}

/** Not retried, not thrown: the token may not write here (a fork PR) or the limit is far off. */
class NotPosted extends Error {
  constructor(
    readonly reason: string,
    readonly status?: number,
  ) {
    super(reason);
  }
}

/** How long to wait before retrying, or undefined when the error is not worth a retry. */
export function retryDelay(error: HttpError, attempt: number, now: number): number | undefined {
  const headers = error.response?.headers ?? {};
  const header = (name: string) => {
    const v = headers[name];
    return v === undefined ? undefined : Number(v);
  };
  const retryAfter = header("retry-after");
  const remaining = header("x-ratelimit-remaining");
  const reset = header("x-ratelimit-reset");
  const rateLimited =
    error.status === 429 || (error.status === 403 && (retryAfter !== undefined || remaining === 0));
  if (rateLimited) {
    if (retryAfter !== undefined && Number.isFinite(retryAfter))
      return Math.max(0, retryAfter * 1000);
    if (reset !== undefined && Number.isFinite(reset))
      return Math.max(0, reset * 1000 - now) + 1000;
    // GitHub's advice for secondary limits without a header: wait at least a minute.
    return 60_000;
  }
  if (error.status >= 500) return 1000 * 2 ** attempt;
  return undefined;
}

type RetryOptions = Pick<PublishOptions, "retries" | "maxWaitMs" | "sleep" | "now" | "reporter">;

async function withRetry<T>(
  what: string,
  call: () => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const retries = options.retries ?? 4;
  const maxWait = options.maxWaitMs ?? 60_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      const http = httpError(error);
      if (!http) throw error;
      const wait = retryDelay(http, attempt, now());
      if (wait === undefined) {
        if (http.status === 403) {
          throw new NotPosted(
            `GitHub refused to ${what} (403: ${http.message}); the token is read-only, as it is for pull requests from forks`,
            403,
          );
        }
        throw new PipelineError(
          `GitHub refused to ${what}: ${http.status} ${http.message}`,
          1,
          http.status === 401
            ? "the token is invalid or expired: check GITHUB_TOKEN"
            : http.status === 404
              ? "check the repository and the pull request number, and that the token can read them"
              : "check the workflow's permissions (pull-requests: write, issues: write)",
        );
      }
      if (attempt >= retries) {
        throw new NotPosted(
          `GitHub kept refusing to ${what} (${http.status}) after ${retries} retries`,
          http.status,
        );
      }
      if (wait > maxWait) {
        throw new NotPosted(
          `GitHub's rate limit stops us from trying to ${what} for ${Math.ceil(wait / 1000)} s, longer than the ${Math.ceil(maxWait / 1000)} s we wait`,
          http.status,
        );
      }
      options.reporter?.warn(
        `GitHub answered ${http.status} to ${what}; retrying in ${Math.ceil(wait / 1000)} s (${attempt + 1}/${retries})`,
      );
      await sleep(wait);
    }
  }
}

interface Comment {
  id: number;
  body?: string | null;
  html_url?: string;
  user?: { login?: string } | null;
}

/** The author of comments made with a workflow's GITHUB_TOKEN. */
export const WORKFLOW_BOT = "github-actions[bot]";

/** The `rel="next"` URL of a Link header. */
export function nextPage(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return match[1];
  }
  return undefined;
}

/** The first comment on the PR whose body starts with the marker, paging through all of them. */
async function findComment(options: PublishOptions, marker: string): Promise<Comment | undefined> {
  const { octokit, owner, repo, issueNumber } = options;
  let response = await withRetry(
    "list the pull request's comments",
    () =>
      octokit.rest.issues.listComments({ owner, repo, issue_number: issueNumber, per_page: 100 }),
    options,
  );
  for (;;) {
    // The marker starts our body; a reply quoting the card has it after "> " and is not ours,
    // and neither is anyone else's comment that starts with it (it would hijack the card).
    const author = options.author ?? WORKFLOW_BOT;
    const found = (response.data as Comment[]).find(
      (c) => c.body?.startsWith(marker) && c.user?.login === author,
    );
    if (found) return found;
    const next = nextPage(response.headers.link);
    if (!next) return undefined;
    response = await withRetry(
      "list the pull request's comments",
      () =>
        octokit.request({ method: "GET", url: next }) as ReturnType<
          typeof octokit.rest.issues.listComments
        >,
      options,
    );
  }
}

export async function publishCard(options: PublishOptions): Promise<PublishResult> {
  const { octokit, owner, repo, issueNumber } = options;
  const marker = options.marker ?? CARD_MARKER;
  const body = options.body.startsWith(marker) ? options.body : `${marker}\n${options.body}`;
  try {
    const existing = await findComment(options, marker);
    if (existing) {
      const updated = await withRetry(
        "update the model card comment",
        () => octokit.rest.issues.updateComment({ owner, repo, comment_id: existing.id, body }),
        options,
      );
      options.reporter?.info(`updated the model card comment: ${updated.data.html_url}`);
      return {
        posted: true,
        action: "updated",
        commentId: existing.id,
        url: updated.data.html_url,
      };
    }
    const created = await withRetry(
      "comment on the pull request",
      () => octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body }),
      options,
    );
    options.reporter?.info(`posted the model card comment: ${created.data.html_url}`);
    return {
      posted: true,
      action: "created",
      commentId: created.data.id,
      url: created.data.html_url,
    };
  } catch (error) {
    if (!(error instanceof NotPosted)) throw error;
    options.reporter?.warn(
      `model card not posted on ${owner}/${repo}#${issueNumber}: ${error.reason}. The job summary has the card.`,
    );
    return {
      posted: false,
      reason: error.reason,
      ...(error.status !== undefined ? { status: error.status } : {}),
    };
  }
}

export interface MergedPullRequest {
  number: number;
  /** The last commit of the pull request's branch: what its runs recorded. */
  headSha: string;
  baseRef: string;
}

/**
 * The pull request that a push to `baseRef` merged (GitHub's `commits/{sha}/pulls`): the one
 * whose merge commit is `commitSha`, else the only merged one listing it (a rebase merge), else
 * undefined (a direct push). Needs `contents: read` (and `pull-requests: read` on private ones).
 */
export async function pullRequestOfCommit(
  options: RetryOptions & {
    octokit: GitHubClient;
    owner: string;
    repo: string;
    commitSha: string;
    baseRef: string;
  },
): Promise<MergedPullRequest | undefined> {
  const { octokit, owner, repo, commitSha, baseRef } = options;
  let response;
  try {
    response = await withRetry(
      `list the pull requests of commit ${commitSha.slice(0, 12)}`,
      () =>
        octokit.rest.repos.listPullRequestsAssociatedWithCommit({
          owner,
          repo,
          commit_sha: commitSha,
          per_page: 100,
        }),
      options,
    );
  } catch (error) {
    if (!(error instanceof NotPosted)) throw error;
    throw new PipelineError(
      `cannot find the pull request merged as ${commitSha.slice(0, 12)}: ${error.reason}`,
      1,
      "give the job `contents: read` and `pull-requests: read`, or wait for the rate limit",
    );
  }
  const merged = response.data.filter(
    (pr) => pr.merged_at !== null && pr.merged_at !== undefined && pr.base.ref === baseRef,
  );
  const chosen =
    merged.find((pr) => pr.merge_commit_sha === commitSha) ??
    (merged.length === 1 ? merged[0] : undefined);
  return chosen ? { number: chosen.number, headSha: chosen.head.sha, baseRef } : undefined;
}

/** GitHub's limit on one step's summary file. */
export const SUMMARY_LIMIT_BYTES = 1024 * 1024;

export type SummaryResult =
  { written: true; bytes: number; truncated: boolean } | { written: false; reason: string };

/**
 * Appends the card to the job summary ($GITHUB_STEP_SUMMARY), cut to fit what is left of the
 * step's 1 MiB (earlier writes in the same step count). Outside Actions there is no summary:
 * the result says so and nothing is written. (core.summary keeps the first path it sees for
 * the life of the process.)
 */
export async function writeJobSummary(markdown: string): Promise<SummaryResult> {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!file) {
    return {
      written: false,
      reason: "GITHUB_STEP_SUMMARY is not set (not running in GitHub Actions)",
    };
  }
  let used = 0;
  try {
    used = statSync(file).size;
  } catch {
    // no summary written yet in this step
  }
  const text = fitBytes(markdown, SUMMARY_LIMIT_BYTES - used);
  if (text === undefined) {
    return { written: false, reason: "this step's job summary already holds GitHub's 1 MiB limit" };
  }
  await core.summary.addRaw(text, true).write();
  return {
    written: true,
    bytes: Buffer.byteLength(text, "utf8") + 1,
    truncated: text !== markdown,
  };
}

const CUT_NOTE =
  "\n\n> ✂️ Cut to fit GitHub's 1 MiB job summary limit; the HTML report has everything.\n";

/**
 * The longest prefix (at a line break, on a UTF-8 character boundary) that fits in `maxBytes`
 * with the cut note, or undefined when not even the note fits.
 */
export function fitBytes(markdown: string, maxBytes: number): string | undefined {
  // addRaw(…, true) appends a line break.
  if (Buffer.byteLength(markdown, "utf8") + 1 <= maxBytes) return markdown;
  const budget = maxBytes - Buffer.byteLength(CUT_NOTE, "utf8") - 1;
  if (budget < 0) return undefined;
  let cut = Buffer.from(markdown, "utf8").subarray(0, budget).toString("utf8");
  // A character split by the byte cut decodes as U+FFFD (3 bytes, more than the tail it replaces).
  cut = cut.replace(/\uFFFD$/, "");
  const line = cut.lastIndexOf("\n");
  if (line > 0) cut = cut.slice(0, line);
  // An unclosed Mermaid/code fence would swallow the note: cut before it.
  if ((cut.match(/^```/gm) ?? []).length % 2 === 1)
    cut = cut.slice(0, Math.max(0, cut.lastIndexOf("\n```")));
  return cut + CUT_NOTE;
}
