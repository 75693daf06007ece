/**
 * Memoized stages across workflow runs with a folder store. A folder store lives as long as its
 * workflow (it travels between jobs as an artifact), so a re-run or the next push of a pull
 * request would find no earlier run to reuse. The Actions cache keeps each memoized stage's
 * folder under its cache key (`mlops-stage-<stage>-<key>`: immutable, like the key) and brings
 * it back into the store before the stage looks for it; the stage then reuses it as it would a
 * run of the same store. An S3 store keeps every run itself and needs none of this.
 */
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ExternalStageCache } from "../../pipeline/run/memo.ts";
import { rememberKey } from "../../pipeline/run/memo.ts";
import { stageKey } from "../../pipeline/store/runs.ts";
import type { ArtifactStore } from "../../pipeline/store/store.ts";
import type { CacheApi } from "./cache-api.ts";

export interface ActionsStageCacheOptions {
  api: CacheApi;
  store: ArtifactStore;
  runId: string;
  /** A scratch folder on the runner, outside the store (RUNNER_TEMP). */
  scratch: string;
  log(line: string): void;
}

export function stageCacheKey(stage: string, key: string): string {
  return `mlops-stage-${stage}-${key}`;
}

/** Not kept: resume state, which a finished stage no longer needs. */
const NOT_KEPT = "/checkpoint/";

export function actionsStageCache(options: ActionsStageCacheOptions): ExternalStageCache {
  const { api, store, log } = options;
  // The same path at save and restore, as the Actions cache requires.
  const folder = (stage: string, key: string) => join(options.scratch, "mlops-stage", stage, key);
  const warn = (what: string, error: unknown) =>
    log(`warning: ${what}: ${error instanceof Error ? error.message : String(error)}`);

  return {
    async restore(stage, key) {
      if (!api.isFeatureAvailable()) return;
      const dir = folder(stage, key);
      try {
        if (!(await api.restoreCache([dir], stageCacheKey(stage, key)))) return;
        const { runId, files } = JSON.parse(await readFile(join(dir, "kept.json"), "utf8")) as {
          runId: string;
          files: string[];
        };
        const target = stageKey(runId, stage, "");
        for (const file of files) {
          await store.put(`${target}${file}`, await readFile(join(dir, "files", file)));
        }
        await rememberKey(store, stage, key, runId);
        log(`restored ${stage} of run ${runId} from the Actions cache (${files.length} files)`);
      } catch (error) {
        warn(`could not restore ${stage} from the Actions cache`, error);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async save(stage, key) {
      if (!api.isFeatureAvailable()) return;
      const dir = folder(stage, key);
      const source = stageKey(options.runId, stage, "");
      try {
        await mkdir(dir, { recursive: true });
        const files = (await store.list(source))
          .map((name) => name.slice(source.length))
          .filter((name) => !`/${name}`.includes(NOT_KEPT));
        for (const file of files) {
          const bytes = await store.get(`${source}${file}`);
          if (!bytes) continue;
          const path = join(dir, "files", file);
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, bytes);
        }
        await writeFile(join(dir, "kept.json"), JSON.stringify({ runId: options.runId, files }));
        await api.saveCache([dir], stageCacheKey(stage, key));
        log(`saved ${stage} to the Actions cache under its key ${key.slice(0, 12)}`);
      } catch (error) {
        // Another job saved the same key first (keys are immutable): nothing lost.
        warn(`could not save ${stage} to the Actions cache`, error);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
