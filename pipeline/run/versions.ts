import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    const path = require.resolve(`${name}/package.json`);
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
}

/** Versions that change results: recorded on every stage so runs can be compared. */
export function versions(): Record<string, string> {
  const own = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
    name: string;
    version: string;
  };
  return {
    [own.name]: own.version,
    node: process.versions.node,
    "@duckdb/node-api": packageVersion("@duckdb/node-api"),
  };
}

/**
 * The commit the code ran from: the one a Batch job's submitter passed (its code package has no
 * .git), GitHub's env on a runner, else git, else unknown.
 */
export function gitSha(): string | undefined {
  if (process.env.MLOPS_GIT_SHA) return process.env.MLOPS_GIT_SHA;
  if (process.env.GITHUB_SHA) return process.env.GITHUB_SHA;
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], {
      stdio: ["ignore", "pipe", "ignore"],
      cwd: new URL("../..", import.meta.url),
    })
      .toString()
      .trim();
  } catch {
    return undefined;
  }
}

/** The pull request a run was made for: its number and the head commit its author pushed. */
export interface PullRequestRef {
  number: number;
  headSha: string;
}

/**
 * On a `pull_request` workflow run, the pull request from the event payload. GITHUB_SHA is then
 * the test merge commit, which exists nowhere else; the head commit is what a merge to main can
 * be traced back to (promote-on-main looks the candidate up by it).
 */
export function pullRequest(env: NodeJS.ProcessEnv = process.env): PullRequestRef | undefined {
  if (env.GITHUB_EVENT_NAME !== "pull_request" || !env.GITHUB_EVENT_PATH) return undefined;
  if (!existsSync(env.GITHUB_EVENT_PATH)) return undefined;
  try {
    const event = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, "utf8")) as {
      pull_request?: { number?: unknown; head?: { sha?: unknown } };
    };
    const number = event.pull_request?.number;
    const headSha = event.pull_request?.head?.sha;
    if (typeof number !== "number" || typeof headSha !== "string") return undefined;
    if (!/^[0-9a-f]{40}$/.test(headSha)) return undefined;
    return { number, headSha };
  } catch {
    return undefined;
  }
}
