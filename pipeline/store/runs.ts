/**
 * Runs and their stage records. Every pipeline run has an id; each stage writes
 * `runs/<id>/<stage>/stage.json` (what it read with content hashes, what it wrote, counts,
 * timings, versions) next to its artifacts, so a run can be inspected, compared and resumed.
 */
import { randomBytes } from "node:crypto";
import type { ShownValue } from "../config/shown-settings.ts";
import type { ArtifactStore } from "./store.ts";

export interface StageInput {
  /** What was read: a file path, a table, an upstream stage's artifact. */
  name: string;
  /** sha256 of the content, when it is a file or artifact. */
  sha256?: string;
  bytes?: number;
}

/** What a stage record says about its key: the key and the hash of each part, to tell what changed. */
export interface StageCache {
  key: string;
  code: string;
  settings: string;
  inputs: Record<string, string>;
}

/** Set on a record whose stage was not run: its outputs came from this earlier run. */
export interface ReusedFrom {
  runId: string;
  /** The outputs are copies in this run's folder (warehouse tables are referenced where they are). */
  mode: "copied";
  /** Files copied from the earlier run's stage folder. */
  files: number;
}

export interface StageRecord {
  runId: string;
  stage: string;
  status: "succeeded" | "failed" | "skipped";
  startedAt: string;
  finishedAt: string;
  seconds: number;
  inputs: StageInput[];
  /** Store keys (relative to the run's stage folder) or warehouse tables written. */
  outputs: string[];
  counts: Record<string, number>;
  versions: Record<string, string>;
  gitSha?: string;
  /** Set on pull-request runs: the pull request and its head commit. */
  pullRequest?: { number: number; headSha: string };
  /**
   * The settings the run ran with, by key, sensitive ones as "(set)" (config/shown-settings.ts),
   * so two runs can be compared; absent in records written before it was kept.
   */
  settings?: Record<string, ShownValue>;
  /** The stage's own result, as printed with --json. */
  result: unknown;
  /** A memoized stage's key (run/memo.ts): equal keys, equal outputs. */
  cache?: StageCache;
  /** Set when the stage was not run because an earlier run had the same key. */
  reused?: ReusedFrom;
  error?: string;
}

export interface RunSummary {
  runId: string;
  stages: {
    stage: string;
    status: StageRecord["status"];
    finishedAt: string;
    seconds: number;
    /** The earlier run whose outputs this stage reused. */
    reusedFrom?: string;
  }[];
  startedAt: string;
  status: "succeeded" | "failed";
}

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Sortable by time, unique enough for concurrent runs: `20261123-083000-1a2b3c`. */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  return `${stamp}-${randomBytes(3).toString("hex")}`;
}

export function validateRunId(id: string): string {
  if (!RUN_ID.test(id)) {
    throw new Error(
      `invalid run id "${id}": use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
  return id;
}

/** The run's folder in the store, where each stage has its own. */
export function runFolder(runId: string): string {
  return `runs/${validateRunId(runId)}/`;
}

export function stageKey(runId: string, stage: string, name = "stage.json"): string {
  return `runs/${validateRunId(runId)}/${stage}/${name}`;
}

export async function writeStageRecord(store: ArtifactStore, record: StageRecord): Promise<string> {
  const key = stageKey(record.runId, record.stage);
  await store.put(key, `${JSON.stringify(record, null, 2)}\n`);
  return key;
}

export async function readStageRecord(
  store: ArtifactStore,
  runId: string,
  stage: string,
): Promise<StageRecord | undefined> {
  const bytes = await store.get(stageKey(runId, stage));
  return bytes ? (JSON.parse(Buffer.from(bytes).toString("utf8")) as StageRecord) : undefined;
}

export async function listRuns(store: ArtifactStore): Promise<RunSummary[]> {
  const keys = await store.list("runs/");
  const byRun = new Map<string, string[]>();
  for (const key of keys) {
    const match = /^runs\/([^/]+)\/([^/]+)\/stage\.json$/.exec(key);
    if (!match) continue;
    const [, runId, stage] = match as unknown as [string, string, string];
    byRun.set(runId, [...(byRun.get(runId) ?? []), stage]);
  }
  const runs: RunSummary[] = [];
  for (const [runId, stages] of byRun) {
    const records = (
      await Promise.all(stages.map((stage) => readStageRecord(store, runId, stage)))
    ).filter((r): r is StageRecord => r !== undefined);
    records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    runs.push(summarize(runId, records));
  }
  return runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

function summarize(runId: string, records: StageRecord[]): RunSummary {
  return {
    runId,
    startedAt: records[0]?.startedAt ?? "",
    status: records.some((r) => r.status === "failed") ? "failed" : "succeeded",
    stages: records.map((r) => ({
      stage: r.stage,
      status: r.status,
      finishedAt: r.finishedAt,
      seconds: r.seconds,
      ...(r.reused ? { reusedFrom: r.reused.runId } : {}),
    })),
  };
}

export interface RunDetail {
  runId: string;
  stages: StageRecord[];
  artifacts: string[];
}

export async function showRun(store: ArtifactStore, runId: string): Promise<RunDetail | undefined> {
  const keys = await store.list(`runs/${validateRunId(runId)}/`);
  if (keys.length === 0) return undefined;
  const stageNames = keys
    .map((key) => /^runs\/[^/]+\/([^/]+)\/stage\.json$/.exec(key)?.[1])
    .filter((s): s is string => s !== undefined);
  const stages = (
    await Promise.all(stageNames.map((stage) => readStageRecord(store, runId, stage)))
  ).filter((r): r is StageRecord => r !== undefined);
  stages.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  return { runId, stages, artifacts: keys };
}
