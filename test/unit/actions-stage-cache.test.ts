/**
 * Memoized stages kept in the Actions cache for a folder store, against a recording stand-in of
 * @actions/cache that keeps what was saved: a stage run in one workflow's store is reused in a
 * fresh store (the next workflow run) without running; trouble with the cache is a warning.
 */
import { cpSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CacheApi } from "../../actions/common/cache-api.ts";
import { actionsStageCache, stageCacheKey } from "../../actions/common/stage-cache.ts";
import { loadConfig } from "../../pipeline/config/config.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { createContext, type RunContext } from "../../pipeline/run/context.ts";
import { recordStage, type StageMemo } from "../../pipeline/run/stage-runner.ts";
import { readStageRecord, stageKey } from "../../pipeline/store/runs.ts";
import { tempDir } from "../helpers/rows.ts";

/** Saves copy the folder away, restores copy it back: the cache service, in memory and on disk. */
function recordingCache(options: { available?: boolean; failSave?: boolean } = {}) {
  const kept = new Map<string, string>();
  const calls: string[] = [];
  const api: CacheApi = {
    isFeatureAvailable: () => options.available ?? true,
    restoreCache: async (paths, key) => {
      calls.push(`restore ${key}`);
      const copy = kept.get(key);
      if (!copy) return undefined;
      cpSync(copy, paths[0] as string, { recursive: true });
      return key;
    },
    saveCache: async (paths, key) => {
      calls.push(`save ${key}`);
      if (options.failSave)
        throw new Error(
          "Unable to reserve cache with key, another job may be creating this cache.",
        );
      const copy = tempDir();
      cpSync(paths[0] as string, copy, { recursive: true });
      kept.set(key, copy);
      return 1;
    },
  };
  return { api, calls, kept };
}

function context(runId: string, api: CacheApi, logs: string[]): RunContext {
  const store = tempDir();
  const { config } = loadConfig({ env: {}, cwd: store, flags: { store } });
  const ctx = createContext(config, runId, silentReporter());
  return {
    ...ctx,
    stageCache: actionsStageCache({
      api,
      store: ctx.store,
      runId,
      scratch: tempDir(),
      log: (line) => logs.push(line),
    }),
  };
}

const MEMO: StageMemo = {
  parts: async () => ({ code: "c".repeat(64), settings: { epochs: 3 }, inputs: { data: "d" } }),
};

async function train(ctx: RunContext, ran: string[]): Promise<{ model: string }> {
  return recordStage(
    ctx,
    "train",
    async () => {
      ran.push(ctx.runId);
      await ctx.store.put(stageKey(ctx.runId, "train", "model/weights.bin"), "weights");
      await ctx.store.put(stageKey(ctx.runId, "train", "checkpoint/epoch-1.bin"), "resume state");
      return {
        result: { model: stageKey(ctx.runId, "train", "model") },
        inputs: [],
        outputs: ["model/weights.bin"],
        counts: {},
      };
    },
    MEMO,
  );
}

describe("memoized stages in the Actions cache", () => {
  it("keeps a stage by its key and reuses it in a fresh store, without running it", async () => {
    const cache = recordingCache();
    const ran: string[] = [];
    const logs: string[] = [];
    const first = context("w1", cache.api, logs);
    await train(first, ran);
    const key = (await readStageRecord(first.store, "w1", "train"))?.cache?.key as string;
    expect(cache.calls).toEqual([
      `restore ${stageCacheKey("train", key)}`,
      `save ${stageCacheKey("train", key)}`,
    ]);
    const saved = cache.kept.get(stageCacheKey("train", key)) as string;
    expect(JSON.parse(readFileSync(join(saved, "kept.json"), "utf8"))).toEqual({
      runId: "w1",
      files: ["model/weights.bin", "stage.json"],
    });
    expect(existsSync(join(saved, "files", "checkpoint"))).toBe(false);

    // The next workflow run: an empty store on a new runner.
    const second = context("w2", cache.api, logs);
    const result = await train(second, ran);
    expect(ran).toEqual(["w1"]);
    expect(result).toEqual({ model: "runs/w2/train/model" });
    const record = await readStageRecord(second.store, "w2", "train");
    expect(record?.reused).toEqual({ runId: "w1", mode: "copied", files: 1 });
    expect(
      Buffer.from((await second.store.get("runs/w2/train/model/weights.bin")) ?? []).toString(),
    ).toBe("weights");
    expect(logs).toContain("restored train of run w1 from the Actions cache (2 files)");
  });

  it("does nothing where the cache service is not available", async () => {
    const cache = recordingCache({ available: false });
    const ran: string[] = [];
    await train(context("w1", cache.api, []), ran);
    await train(context("w2", cache.api, []), ran);
    expect(ran).toEqual(["w1", "w2"]);
    expect(cache.calls).toEqual([]);
  });

  it("a save the service refuses is a warning; the stage still succeeds", async () => {
    const cache = recordingCache({ failSave: true });
    const logs: string[] = [];
    const ctx = context("w1", cache.api, logs);
    expect(await train(ctx, [])).toEqual({ model: "runs/w1/train/model" });
    expect(logs).toEqual([
      expect.stringMatching(
        /^warning: could not save train to the Actions cache: Unable to reserve cache/,
      ),
    ]);
    expect((await readStageRecord(ctx.store, "w1", "train"))?.status).toBe("succeeded");
  });
});
