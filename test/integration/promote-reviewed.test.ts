/**
 * Promote what was reviewed: the candidate of a merged pull request found in the run store by
 * its head commit (pipeline/promote/reviewed.ts), checked (gates, model hashes, champion), then
 * promoted without the warehouse (its evaluation stored the smoke-test sessions); `pipeline
 * reviewed` against a GitHub API stand-in on loopback (the commits/{sha}/pulls call asserted).
 */
import { writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import type { EvaluateResult } from "../../pipeline/evaluate/stage.ts";
import { smokeSessionsKey } from "../../pipeline/evaluate/smoke-sessions.ts";
import { promoteRun } from "../../pipeline/promote/promote.ts";
import { readProduction } from "../../pipeline/store/registry.ts";
import { findReviewedCandidate, reviewedForCommit } from "../../pipeline/promote/reviewed.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { recordStage } from "../../pipeline/run/stage-runner.ts";
import type { RunContext } from "../../pipeline/run/context.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { readStageRecord, stageKey, writeStageRecord } from "../../pipeline/store/runs.ts";
import { modelArtifactHashes, modelDirHashes } from "../../pipeline/train/fetch-artifact.ts";
import { runCli } from "../helpers/cli.ts";
import { startGitHubStandIn, type GitHubStandIn } from "../helpers/github-stand-in.ts";
import { writeTestArtifact } from "../helpers/model-artifact.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const sha = (label: string) => hex(label).slice(0, 40);
const HEAD = sha("pr-7-head");
const MERGE = sha("merge-of-pr-7");
const skus = Array.from({ length: 40 }, (_, i) => hex(`item${i}`));

/** A pull-request run: model in the store, an evaluation that recorded the model's hashes. */
async function addRun(
  store: LocalStore,
  runId: string,
  options: {
    headSha?: string;
    passed?: boolean;
    finishedAt: string;
    productionRunId?: string | null;
  },
): Promise<void> {
  await writeTestArtifact(join(store.root, "runs", runId, "train", "model"), { skus, runId });
  const figure = (value: number) => ({
    value,
    n: 500,
    ci: { low: value - 0.02, high: value + 0.02, level: 0.95 },
  });
  const evaluation = {
    report: {
      roles: { candidate: "hybrid", production: null },
      recommenders: [{ name: "hybrid", metrics: { "hr@20": figure(0.3), "mrr@20": figure(0.1) } }],
      comparisons: [],
    },
    gates: { passed: options.passed ?? true, checks: [] },
    productionRunId: options.productionRunId ?? null,
  } as unknown as EvaluateResult;
  await store.put(smokeSessionsKey(runId), JSON.stringify([[skus[1], skus[2]], [skus[3]]]));
  await writeStageRecord(store, {
    runId,
    stage: "evaluate",
    status: options.passed === false ? "failed" : "succeeded",
    startedAt: options.finishedAt,
    finishedAt: options.finishedAt,
    seconds: 1,
    inputs: await modelArtifactHashes(store, runId),
    outputs: [],
    counts: {},
    versions: {},
    pullRequest: { number: 7, headSha: options.headSha ?? HEAD },
    result: evaluation,
  });
}

describe("findReviewedCandidate", () => {
  it("finds the newest qualifying run of the head commit and says why older or newer ones did not", async () => {
    const store = new LocalStore(tempDir("reviewed-"));
    await addRun(store, "run-old", { finishedAt: "2026-11-30T10:00:00Z" });
    await addRun(store, "run-new", { finishedAt: "2026-11-30T12:00:00Z", passed: false });
    await addRun(store, "run-other", { finishedAt: "2026-11-30T13:00:00Z", headSha: sha("x") });
    const found = await findReviewedCandidate(store, HEAD);
    expect(found.candidate?.runId).toBe("run-old");
    expect(found.candidate?.checks.every((c) => c.passed)).toBe(true);
    expect(found.rejected.map((r) => r.runId)).toEqual(["run-new"]);
    expect(found.rejected[0]?.checks.find((c) => !c.passed)?.detail).toBe("its evaluation failed");
    expect(found.reason).toMatch(
      /^promoting run run-old, the candidate reviewed on pull request #7/,
    );
    expect(found.reason).toContain("model files hash as evaluated");
  });

  it("refuses a run whose model files changed after its evaluation", async () => {
    const store = new LocalStore(tempDir("reviewed-"));
    await addRun(store, "run-a", { finishedAt: "2026-11-30T10:00:00Z" });
    await appendFile(
      join(store.root, ...stageKey("run-a", "train", "model/weights.bin").split("/")),
      "x",
    );
    const found = await findReviewedCandidate(store, HEAD);
    expect(found.candidate).toBeUndefined();
    expect(found.reason).toMatch(
      /the reviewed run run-a of commit .* cannot be promoted as it is \(model files differ from the evaluated ones: runs\/run-a\/train\/model\/weights\.bin\): retraining/,
    );
  });

  it("refuses a run compared with a champion that is no longer in production", async () => {
    const store = new LocalStore(tempDir("reviewed-"));
    await addRun(store, "run-a", { finishedAt: "2026-11-30T10:00:00Z" });
    await addRun(store, "run-prod", { finishedAt: "2026-11-30T09:00:00Z", headSha: sha("y") });
    const config = loadConfig({ env: { MLOPS_STORE: store.root }, cwd: store.root }).config;
    await promoteRun({
      config,
      runId: "run-prod",
      store,
      warehouse: () => Promise.reject(new Error("no warehouse")),
      reporter: silentReporter(),
    });
    const found = await findReviewedCandidate(store, HEAD);
    expect(found.candidate).toBeUndefined();
    expect(found.rejected[0]?.checks.find((c) => c.name === "same champion")?.detail).toBe(
      "production changed since its evaluation (none then, run-prod now)",
    );
  });

  it("says so when nothing was evaluated for the head commit", async () => {
    const store = new LocalStore(tempDir("reviewed-"));
    const found = await findReviewedCandidate(store, HEAD);
    expect(found).toMatchObject({ rejected: [] });
    expect(found.reason).toMatch(
      /no run in .* was evaluated for commit [0-9a-f]{12} \(the pull request's head\): retraining/,
    );
  });

  it("treats a folder store on a CI runner as gone: champion/challenger cannot work there", async () => {
    const store = new LocalStore(tempDir("reviewed-"));
    await addRun(store, "run-a", { finishedAt: "2026-11-30T10:00:00Z" });
    const result = await reviewedForCommit({
      store,
      commit: MERGE,
      ephemeralFolder: true,
      findPullRequest: () => Promise.reject(new Error("not called")),
    });
    expect(result.candidate).toBeUndefined();
    expect(result.persistentStore).toBe(false);
    expect(result.reason).toContain("champion/challenger cannot work");
    expect(result.reason).toContain("MLOPS_S3_STORE");
  });
});

describe("the model hashes evaluate records", () => {
  it("are the ones the reviewed check computes from the store, name for name", async () => {
    const store = new LocalStore(tempDir("reviewed-hashes-"));
    const dir = join(store.root, "runs", "run-h", "train", "model");
    await writeTestArtifact(dir, { skus, runId: "run-h" });
    const fromDisk = await modelDirHashes(dir, "run-h");
    expect(fromDisk.length).toBeGreaterThanOrEqual(5);
    expect(fromDisk).toEqual(await modelArtifactHashes(store, "run-h"));
  });
});

describe("promoting the reviewed run", () => {
  it("deploys it with the smoke sessions its evaluation stored, without opening a warehouse", async () => {
    const dir = tempDir("reviewed-promote-");
    const store = new LocalStore(join(dir, "store"));
    await addRun(store, "run-a", { finishedAt: "2026-11-30T10:00:00Z" });
    const config = loadConfig({ env: { MLOPS_STORE: store.root }, cwd: dir }).config;
    const result = await promoteRun({
      config,
      runId: "run-a",
      store,
      warehouse: () => Promise.reject(new Error("the warehouse was opened")),
      reporter: silentReporter(),
    });
    expect(result).toMatchObject({ promoted: true, smoke: { sessions: 2 } });
    expect((await readProduction(store))?.runId).toBe("run-a");
  });
});

describe("stage records of pull-request runs", () => {
  it("hold the pull request's number and head commit from the event payload", async () => {
    const dir = tempDir("reviewed-event-");
    const store = new LocalStore(dir);
    const event = join(dir, "event.json");
    writeFileSync(event, JSON.stringify({ pull_request: { number: 12, head: { sha: HEAD } } }));
    const saved = { name: process.env.GITHUB_EVENT_NAME, path: process.env.GITHUB_EVENT_PATH };
    process.env.GITHUB_EVENT_NAME = "pull_request";
    process.env.GITHUB_EVENT_PATH = event;
    try {
      const ctx = { runId: "run-pr", store } as unknown as RunContext;
      await recordStage(ctx, "card", () =>
        Promise.resolve({ result: null, inputs: [], outputs: [], counts: {} }),
      );
    } finally {
      for (const [name, value] of [
        ["GITHUB_EVENT_NAME", saved.name],
        ["GITHUB_EVENT_PATH", saved.path],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect((await readStageRecord(store, "run-pr", "card"))?.pullRequest).toEqual({
      number: 12,
      headSha: HEAD,
    });
  });
});

describe("pipeline reviewed", () => {
  let github: GitHubStandIn;
  beforeAll(async () => {
    github = await startGitHubStandIn();
  });
  afterAll(() => github.close());

  const env = (storeDir: string) => ({
    MLOPS_STORE: storeDir,
    GITHUB_TOKEN: "ghs_test-token",
    GITHUB_REPOSITORY: "acme/shop",
    GITHUB_API_URL: github.baseUrl,
    GITHUB_ACTIONS: "",
  });

  it("asks GitHub which pull request the merge commit came from, then finds its candidate", async () => {
    const store = new LocalStore(tempDir("reviewed-cli-"));
    await addRun(store, "run-a", { finishedAt: "2026-11-30T10:00:00Z" });
    github.seedPull("acme", "shop", MERGE, {
      number: 6,
      headSha: sha("closed-unmerged"),
      baseRef: "main",
      mergedAt: null,
      mergeCommitSha: null,
    });
    github.seedPull("acme", "shop", MERGE, {
      number: 7,
      headSha: HEAD,
      baseRef: "main",
      mergedAt: "2026-11-30T11:00:00Z",
      mergeCommitSha: MERGE,
    });
    const before = github.requests.length;
    const result = await runCli(["reviewed", "--commit", MERGE, "--json"], {
      env: env(store.root),
    });
    expect(result.code, result.stderr).toBe(0);
    expect(github.requests.slice(before)).toEqual([
      {
        method: "GET",
        url: `/repos/acme/shop/commits/${MERGE}/pulls?per_page=100`,
        authorization: "token ghs_test-token",
      },
    ]);
    const out = JSON.parse(result.stdout) as {
      candidate?: { runId: string };
      pullRequest: number;
      headSha: string;
    };
    expect(out).toMatchObject({ pullRequest: 7, headSha: HEAD, candidate: { runId: "run-a" } });
    expect(result.stdout).not.toContain("ghs_test-token");
  });

  it("retrains on a direct push, and without a token or a full sha stops naming what is missing", async () => {
    const store = new LocalStore(tempDir("reviewed-cli-"));
    const direct = sha("direct-push");
    const pushed = await runCli(["reviewed", "--commit", direct, "--json"], {
      env: env(store.root),
    });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect((JSON.parse(pushed.stdout) as { reason: string }).reason).toMatch(
      /was not merged from a pull request \(a direct push\)/,
    );

    const noToken = await runCli(["reviewed", "--commit", direct], {
      env: { ...env(store.root), GITHUB_TOKEN: "" },
    });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/needs GITHUB_TOKEN and GITHUB_REPOSITORY/);

    const bad = await runCli(["reviewed", "--commit", "main"], { env: env(store.root) });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--commit "main" is not a full commit sha/);
  });
});
