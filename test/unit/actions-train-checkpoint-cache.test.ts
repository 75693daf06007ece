/**
 * The train action's checkpoint cache (actions/train/checkpoint-cache.ts) against a recording
 * stand-in of @actions/cache (GitHub's cache service is out of reach): a re-run restores the
 * newest checkpoint of its run id; each new epoch is saved under its own immutable key while
 * training runs, the last one also when training fails; cache trouble is only a warning.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkpointCacheKey, withCheckpointCache } from "../../actions/train/checkpoint-cache.ts";
import type { CacheApi } from "../../actions/common/cache-api.ts";
import { tempDir } from "../helpers/rows.ts";

function standIn(options: { available?: boolean; restored?: string; failSave?: boolean } = {}) {
  const calls: string[] = [];
  const api: CacheApi = {
    isFeatureAvailable: () => options.available ?? true,
    restoreCache: (paths, key, restoreKeys) => {
      calls.push(`restore ${paths.join(",")} ${key} [${(restoreKeys ?? []).join(",")}]`);
      return Promise.resolve(options.restored);
    },
    saveCache: (paths, key) => {
      calls.push(`save ${paths.join(",")} ${key}`);
      return options.failSave
        ? Promise.reject(new Error("cache service unavailable"))
        : Promise.resolve(1);
    },
  };
  return { api, calls };
}

const epoch = (dir: string, n: number) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `epoch-${n}.json`), "{}");
  writeFileSync(join(dir, "latest.json"), JSON.stringify({ epoch: n }));
};
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the train action's checkpoint cache", () => {
  it("restores the run's newest checkpoint, then saves each new epoch under its own key", async () => {
    const dir = join(tempDir("ckpt-cache-"), "runs", "r1", "train", "checkpoint");
    const { api, calls } = standIn({ restored: checkpointCacheKey("r1", 2) });
    const log: string[] = [];
    const result = await withCheckpointCache(
      { api, dir, runId: "r1", log: (l) => log.push(l), intervalMs: 10 },
      async () => {
        epoch(dir, 3);
        await tick(40);
        epoch(dir, 4);
        await tick(40);
        epoch(dir, 5); // written just before the end: saved on the way out
        return "trained";
      },
    );
    expect(result).toBe("trained");
    expect(calls).toEqual([
      `restore ${dir} mlops-train-checkpoint-r1-latest [mlops-train-checkpoint-r1-]`,
      `save ${dir} mlops-train-checkpoint-r1-0003`,
      `save ${dir} mlops-train-checkpoint-r1-0004`,
      `save ${dir} mlops-train-checkpoint-r1-0005`,
    ]);
    expect(log[0]).toBe(
      "restored the checkpoints of an earlier attempt from the Actions cache (mlops-train-checkpoint-r1-0002)",
    );
  });

  it("saves the last checkpoint when training fails, and fails as training did", async () => {
    const dir = join(tempDir("ckpt-cache-"), "checkpoint");
    const { api, calls } = standIn();
    const failing = withCheckpointCache(
      { api, dir, runId: "r2", log: () => undefined, intervalMs: 1000 },
      async () => {
        epoch(dir, 7);
        throw new Error("the job ran out of time");
      },
    );
    await expect(failing).rejects.toThrow("the job ran out of time");
    expect(calls.at(-1)).toBe(`save ${dir} mlops-train-checkpoint-r2-0007`);
  });

  it("only warns when the cache cannot save, and does nothing off GitHub", async () => {
    const dir = join(tempDir("ckpt-cache-"), "checkpoint");
    const broken = standIn({ failSave: true });
    const log: string[] = [];
    await withCheckpointCache(
      { api: broken.api, dir, runId: "r3", log: (l) => log.push(l) },
      async () => {
        epoch(dir, 1);
        return 1;
      },
    );
    expect(log).toEqual([
      "warning: could not save the epoch 1 checkpoint to the Actions cache: cache service unavailable",
    ]);

    const offline = standIn({ available: false });
    expect(
      await withCheckpointCache({ api: offline.api, dir, runId: "r4", log: () => undefined }, () =>
        Promise.resolve("ok"),
      ),
    ).toBe("ok");
    expect(offline.calls).toEqual([]);
  });
});
