/**
 * Memoized stages: a stage whose inputs, code and settings hash to a key an earlier succeeded
 * run of the same store already recorded is not run again. Its outputs are copied from that run
 * into this one (so every later stage reads this run's folder as usual), and its record says
 * what was reused and from which run. As build caches do, the key is content: the data a stage
 * reads (raw loads, the upstream stages' keys, the production model), the code it can reach
 * (code-hash.ts), and the settings that reach it.
 */
import { sha256Hex } from "../data/file-hash.ts";
import type { ArtifactStore } from "../store/store.ts";
import { readStageRecord, stageKey, type StageCache, type StageRecord } from "../store/runs.ts";

export interface CacheKeyParts {
  /** codeHash() of the modules that implement the stage. */
  code: string;
  /** The settings that reach it, as plain data. */
  settings: unknown;
  /** Content hashes of what it reads, by name (data, upstream keys, files, production model). */
  inputs: Record<string, string>;
}

/**
 * Where memoized outputs may also be kept outside the run store, by key: the Actions cache,
 * for a folder store that lives only as long as its job. Failures are the hook's to report; a
 * stage never fails because of them.
 */
export interface ExternalStageCache {
  /** Before the store is asked for the key: brings an earlier run's stage in, if kept. */
  restore(stage: string, key: string): Promise<void>;
  /** After the stage ran and succeeded under the key. */
  save(stage: string, key: string): Promise<void>;
}

/** JSON with sorted keys, so that equal settings hash equally whatever their order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : v,
  );
}

export function stageCache(stage: string, parts: CacheKeyParts): StageCache {
  const settings = sha256Hex(canonicalJson(parts.settings));
  const inputs = Object.fromEntries(
    Object.entries(parts.inputs).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const key = sha256Hex(canonicalJson({ stage, code: parts.code, settings, inputs }));
  return { key, code: parts.code, settings, inputs };
}

function indexKey(stage: string, key: string): string {
  return `cache/${stage}/${key}.json`;
}

/** Points the key at the run that produced it, once that run's stage succeeded. */
export async function rememberKey(
  store: ArtifactStore,
  stage: string,
  key: string,
  runId: string,
): Promise<void> {
  await store.put(indexKey(stage, key), `${JSON.stringify({ runId })}\n`);
}

/** The succeeded record of an earlier run with this key, if the store still holds one. */
export async function findReusable(
  store: ArtifactStore,
  stage: string,
  key: string,
  runId: string,
): Promise<StageRecord | undefined> {
  const bytes = await store.get(indexKey(stage, key));
  if (!bytes) return undefined;
  const pointer = JSON.parse(Buffer.from(bytes).toString("utf8")) as { runId?: unknown };
  if (typeof pointer.runId !== "string" || pointer.runId === runId) return undefined;
  const record = await readStageRecord(store, pointer.runId, stage);
  if (record?.status !== "succeeded" || record.cache?.key !== key) return undefined;
  return record;
}

/** A finished stage's resume state (train's epoch checkpoints) is not one of its outputs. */
const NOT_COPIED = ["checkpoint/"];

/**
 * Copies an earlier run's stage folder into this run's (its record aside) and returns the
 * earlier record's result and outputs with that run's paths turned into this run's.
 */
export async function copyStageOutputs(
  store: ArtifactStore,
  from: StageRecord,
  runId: string,
): Promise<{ files: number; rewrite: <T>(value: T) => T }> {
  const source = stageKey(from.runId, from.stage, "");
  const target = stageKey(runId, from.stage, "");
  const keys = (await store.list(source)).filter(
    (key) =>
      key !== `${source}stage.json` &&
      !NOT_COPIED.some((folder) => key.startsWith(`${source}${folder}`)),
  );
  for (const key of keys) {
    const bytes = await store.get(key);
    if (!bytes) throw new Error(`${key} vanished while being copied from run ${from.runId}`);
    await store.put(`${target}${key.slice(source.length)}`, bytes);
  }
  const rewrite = <T>(value: T): T =>
    JSON.parse(JSON.stringify(value).replaceAll(`runs/${from.runId}/`, `runs/${runId}/`)) as T;
  return { files: keys.length, rewrite };
}
