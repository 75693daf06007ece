/**
 * `promote --target local` for real: models saved as `pipeline train` saves them, served by the
 * real server on loopback, smoke-tested with test sessions from a real DuckDB; a broken artifact
 * is rolled back (the production model is brought up and checked again, the registry unchanged).
 */
import { truncate } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { StageFailure } from "../../pipeline/errors.ts";
import type { EvaluateResult } from "../../pipeline/evaluate/stage.ts";
import { promoteRun, rollbackProduction } from "../../pipeline/promote/promote.ts";
import { readProduction } from "../../pipeline/store/registry.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { stageKey, writeStageRecord } from "../../pipeline/store/runs.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { writeTestArtifact } from "../helpers/model-artifact.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const dir = tempDir("promote-local-");
const store = new LocalStore(join(dir, "store"));
const skus = Array.from({ length: 40 }, (_, i) => hex(`item${i}`));
const config = loadConfig({
  env: { MLOPS_STORE: join(dir, "store") },
  cwd: dir,
}).config;
let warehouse: DuckDbWarehouse;

/** A trained-looking run: its artifact in the store and an evaluation whose gates passed. */
async function addRun(runId: string, hr20: number): Promise<void> {
  await writeTestArtifact(join(store.root, "runs", runId, "train", "model"), { skus, runId });
  const figure = (value: number) => ({
    value,
    n: 500,
    ci: { low: value - 0.02, high: value + 0.02, level: 0.95 },
  });
  const evaluation = {
    report: {
      roles: { candidate: "hybrid", production: null },
      recommenders: [
        { name: "hybrid", metrics: { "hr@20": figure(hr20), "mrr@20": figure(hr20 / 3) } },
      ],
      comparisons: [],
    },
    gates: { passed: true, checks: [] },
  } as unknown as EvaluateResult;
  await writeStageRecord(store, {
    runId,
    stage: "evaluate",
    status: "succeeded",
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    seconds: 1,
    inputs: [],
    outputs: [],
    counts: {},
    versions: {},
    result: evaluation,
  });
}

const promote = (runId: string) =>
  promoteRun({
    config,
    runId,
    store,
    warehouse: async () => warehouse,
    reporter: silentReporter(),
  });

beforeAll(async () => {
  warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
  await warehouse.query(
    "create table session_sequences as select 's' || i as session_key, i as session_start_ms, [$1, $2, $3] as items from range(25) t(i)",
    [skus[1] as string, skus[2] as string, skus[3] as string],
  );
  await warehouse.query(
    "create table session_splits as select session_key, 'test' as split from session_sequences",
  );
  await addRun("run-a", 0.3);
  await addRun("run-b", 0.31);
});

describe("promote --target local", () => {
  it("serves the candidate, smoke-tests it with test sessions and records it in production", async () => {
    const result = await promote("run-a");
    expect(result).toMatchObject({ target: "local", promoted: true });
    expect(result.smoke).toMatchObject({ sessions: 20, k: 10 });
    expect((await readProduction(store))?.runId).toBe("run-a");
  });

  it("rolls back to the production model when the candidate's endpoint fails its smoke test", async () => {
    // A damaged artifact: the weights file cut short, as an interrupted copy would leave it.
    await truncate(
      join(store.root, ...stageKey("run-b", "train", "model/weights.bin").split("/")),
      100,
    );
    const error = await promote("run-b").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailure);
    expect((error as StageFailure).message).toContain(
      "promotion of run run-b rolled back: its endpoint failed the smoke test; run run-a stays in production",
    );
    expect((error as StageFailure).result).toMatchObject({
      promoted: false,
      rolledBackTo: "run-a",
    });
    expect((await readProduction(store))?.runId).toBe("run-a");
  });

  it("--rollback puts the previous production model back, after its smoke test", async () => {
    await addRun("run-c", 0.32);
    expect(await promote("run-c")).toMatchObject({ promoted: true });
    expect((await readProduction(store))?.previousRunId).toBe("run-a");
    const entry = await rollbackProduction({
      config,
      store,
      warehouse: async () => warehouse,
      reporter: silentReporter(),
    });
    expect(entry).toMatchObject({ action: "rollback", runId: "run-a", rolledBackFrom: "run-c" });
    expect((await readProduction(store))?.runId).toBe("run-a");
  });

  it("refuses a run without an evaluation, naming the command to run", async () => {
    await expect(promote("run-never-evaluated")).rejects.toThrow(
      /run run-never-evaluated has no evaluation/,
    );
  });
});
