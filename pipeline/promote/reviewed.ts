/**
 * Promote what was reviewed: after a merge, the model to deploy is the candidate whose card the
 * reviewers read on the pull request, not a new one trained from the merged code. It is found in
 * the run store by the pull request's head commit (recorded on every stage of a pull-request run)
 * and accepted only when its gates passed, the model files are still the ones evaluated (sha256)
 * and the champion it was compared with is still the one in production. When none qualifies the
 * merge retrains, and says why.
 */
import { readStageResult, type StageResultRecord } from "../run/results.ts";
import type { ArtifactStore } from "../store/store.ts";
import { modelArtifactHashes } from "../train/fetch-artifact.ts";
import { readProduction } from "../store/registry.ts";

export interface ReviewedCheck {
  name: "gates passed" | "model files unchanged" | "same champion";
  passed: boolean;
  detail: string;
}

export interface ReviewedRun {
  runId: string;
  pullRequest: number;
  evaluatedAt: string;
  checks: ReviewedCheck[];
}

export interface ReviewedLookup {
  headSha: string;
  /** The newest run for the head commit that passed every check. */
  candidate?: ReviewedRun;
  /** Runs for the head commit that did not qualify, newest first. */
  rejected: ReviewedRun[];
  /** One sentence for the job summary and the card. */
  reason: string;
}

const EVALUATE_RECORD = /^runs\/([^/]+)\/evaluate\/stage\.json$/;

export async function findReviewedCandidate(
  store: ArtifactStore,
  headSha: string,
): Promise<ReviewedLookup> {
  const evaluations: StageResultRecord<"evaluate">[] = [];
  for (const key of await store.list("runs/")) {
    const runId = EVALUATE_RECORD.exec(key)?.[1];
    if (runId === undefined) continue;
    const record = await readStageResult(store, runId, "evaluate");
    if (record?.pullRequest?.headSha === headSha) evaluations.push(record);
  }
  evaluations.sort((a, b) => b.finishedAt.localeCompare(a.finishedAt));
  const short = headSha.slice(0, 12);
  if (evaluations.length === 0) {
    return {
      headSha,
      rejected: [],
      reason: `no run in ${store.location} was evaluated for commit ${short} (the pull request's head): retraining on the merged code`,
    };
  }
  const production = (await readProduction(store)) ?? null;
  const rejected: ReviewedRun[] = [];
  for (const record of evaluations) {
    const checks = await checkRun(store, record, production?.runId ?? null);
    const run: ReviewedRun = {
      runId: record.runId,
      pullRequest: record.pullRequest?.number ?? 0,
      evaluatedAt: record.finishedAt,
      checks,
    };
    if (checks.every((c) => c.passed)) {
      return {
        headSha,
        candidate: run,
        rejected,
        reason: `promoting run ${run.runId}, the candidate reviewed on pull request #${run.pullRequest} (head ${short}, evaluated ${run.evaluatedAt}): ${checks.map((c) => c.detail).join("; ")}`,
      };
    }
    rejected.push(run);
  }
  const first = rejected[0] as ReviewedRun;
  const why = first.checks.find((c) => !c.passed)?.detail ?? "";
  return {
    headSha,
    rejected,
    reason: `the reviewed run ${first.runId} of commit ${short} cannot be promoted as it is (${why})${rejected.length > 1 ? ` nor can ${rejected.length - 1} older run(s)` : ""}: retraining on the merged code`,
  };
}

async function checkRun(
  store: ArtifactStore,
  record: StageResultRecord<"evaluate">,
  productionRunId: string | null,
): Promise<ReviewedCheck[]> {
  const evaluation = record.result;
  const gatesPassed = record.status === "succeeded" && evaluation?.gates.passed === true;
  const checks: ReviewedCheck[] = [
    {
      name: "gates passed",
      passed: gatesPassed,
      detail: gatesPassed
        ? "its gates passed"
        : `its evaluation ${record.status === "succeeded" ? "has no passing gates" : `${record.status}`}`,
    },
  ];

  const evaluated = new Map(record.inputs.map((input) => [input.name, input.sha256]));
  const now = await modelArtifactHashes(store, record.runId);
  const changed = [
    ...now.filter((file) => evaluated.get(file.name) !== file.sha256).map((f) => f.name),
    ...[...evaluated.keys()].filter((name) => !now.some((file) => file.name === name)),
  ];
  const unchanged = evaluated.size > 0 && changed.length === 0;
  checks.push({
    name: "model files unchanged",
    passed: unchanged,
    detail: unchanged
      ? `its ${now.length} model files hash as evaluated`
      : evaluated.size === 0
        ? "its evaluation recorded no model hashes"
        : `model files differ from the evaluated ones: ${[...new Set(changed)].slice(0, 5).join(", ")}`,
  });

  // The decision compares the candidate with the champion its evaluation saw.
  const compared = evaluation?.productionRunId ?? null;
  const current = productionRunId === record.runId ? compared : productionRunId;
  checks.push({
    name: "same champion",
    passed: compared === current,
    detail:
      compared === current
        ? current
          ? `it was compared with run ${current}, still in production`
          : "nothing was in production then or now"
        : `production changed since its evaluation (${compared ?? "none"} then, ${current ?? "none"} now)`,
  });
  return checks;
}

export interface ReviewedForCommit extends ReviewedLookup {
  commit: string;
  /** The pull request merged as `commit`, when there was one. */
  pullRequest?: number;
  /** Whether the store outlives this job (S3); a runner's folder store does not. */
  persistentStore: boolean;
}

/**
 * The reviewed candidate for a commit on main: its pull request's head (from `findPullRequest`,
 * GitHub's API in the workflow), then `findReviewedCandidate`. Says why when there is none: a
 * direct push, or a store that cannot hold the pull request's runs.
 */
export async function reviewedForCommit(input: {
  store: ArtifactStore;
  commit: string;
  findPullRequest(commit: string): Promise<{ number: number; headSha: string } | undefined>;
  /** True on a CI runner, whose folder store is gone after the workflow. */
  ephemeralFolder: boolean;
}): Promise<ReviewedForCommit> {
  const persistentStore = input.store.location.startsWith("s3://") || !input.ephemeralFolder;
  /** No run to look at: the merge retrains, for this reason. */
  const retrain = (reason: string): ReviewedForCommit => ({
    commit: input.commit,
    headSha: "",
    rejected: [],
    persistentStore,
    reason,
  });
  if (!persistentStore) {
    return retrain(
      `the run store (${input.store.location}) lives only as long as one workflow, so the pull request's candidate and the production registry are gone: retraining, and every run sees no production model (champion/challenger cannot work). Set the MLOPS_S3_STORE variable to keep them (README, level 2).`,
    );
  }
  const pr = await input.findPullRequest(input.commit);
  if (!pr) {
    return retrain(
      `commit ${input.commit.slice(0, 12)} was not merged from a pull request (a direct push): nothing was reviewed, retraining on it`,
    );
  }
  const lookup = await findReviewedCandidate(input.store, pr.headSha);
  return { ...lookup, commit: input.commit, pullRequest: pr.number, persistentStore };
}
