/**
 * Training that survives a re-run: with a folder run store the checkpoints live on the runner
 * and would vanish with a cancelled or timed-out job. Each new checkpoint is saved to the
 * Actions cache (keys are immutable: one per epoch, `mlops-train-checkpoint-<run id>-<epoch>`),
 * and a re-run of the job (the same run id) restores the newest before training, which then
 * resumes from it. An S3 run store keeps its checkpoints itself and needs none of this.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CacheApi } from "../common/cache-api.ts";

export interface CheckpointCacheOptions {
  api: CacheApi;
  /** The run's checkpoint folder in the folder store: `<store>/runs/<id>/train/checkpoint`. */
  dir: string;
  runId: string;
  log(line: string): void;
  /** How often the folder is looked at for a new epoch (default 15 s). */
  intervalMs?: number;
}

export function checkpointCacheKey(runId: string, epoch: number): string {
  return `mlops-train-checkpoint-${runId}-${String(epoch).padStart(4, "0")}`;
}

/** The epoch of the newest checkpoint in the folder, or undefined. */
function latestEpoch(dir: string): number | undefined {
  const path = join(dir, "latest.json");
  if (!existsSync(path)) return undefined;
  try {
    const epoch = (JSON.parse(readFileSync(path, "utf8")) as { epoch?: unknown }).epoch;
    return typeof epoch === "number" ? epoch : undefined;
  } catch {
    return undefined; // being written right now: the next look sees it
  }
}

/**
 * Restores the newest cached checkpoint of the run, then saves each new one while `train`
 * runs, and the last one when it ends (also when it fails). Cache trouble is a warning: training
 * never fails because of it.
 */
export async function withCheckpointCache<T>(
  options: CheckpointCacheOptions,
  train: () => Promise<T>,
): Promise<T> {
  const { api, dir, runId, log } = options;
  if (!api.isFeatureAvailable()) return train();
  const prefix = `mlops-train-checkpoint-${runId}-`;
  try {
    const restored = await api.restoreCache([dir], `${prefix}latest`, [prefix]);
    if (restored)
      log(`restored the checkpoints of an earlier attempt from the Actions cache (${restored})`);
  } catch (error) {
    log(
      `warning: could not restore checkpoints from the Actions cache: ${(error as Error).message}`,
    );
  }
  let saved = latestEpoch(dir);
  let pending: Promise<void> = Promise.resolve();
  const saveNewest = () => {
    const epoch = latestEpoch(dir);
    if (epoch === undefined || epoch === saved) return;
    saved = epoch;
    pending = pending.then(async () => {
      try {
        await api.saveCache([dir], checkpointCacheKey(runId, epoch));
        log(`saved the epoch ${epoch} checkpoint to the Actions cache`);
      } catch (error) {
        log(
          `warning: could not save the epoch ${epoch} checkpoint to the Actions cache: ${(error as Error).message}`,
        );
      }
    });
  };
  const timer = setInterval(saveNewest, options.intervalMs ?? 15_000);
  try {
    return await train();
  } finally {
    clearInterval(timer);
    saveNewest();
    await pending;
  }
}
