import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
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
