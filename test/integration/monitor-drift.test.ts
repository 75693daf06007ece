/**
 * The monitoring loop end to end, on real stages, a real DuckDB file and the real model server:
 * a trained model is served with its request log on, sessions are replayed through it over HTTP,
 * and the next run loads the log, builds served_sessions and shows the drift in its card. The
 * figures move the right way when the replayed traffic is shifted on purpose (to the catalog's
 * tail and to SKUs nobody knows), and training is not repeated for new traffic.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../pipeline/config/config.ts";
import { createRequestLog } from "../../pipeline/serve/request-log.ts";
import { startModelServer } from "../../pipeline/serve/serve.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { createContext } from "../../pipeline/run/context.ts";
import { readStageResult } from "../../pipeline/run/results.ts";
import { promoteStage, runPipeline } from "../../pipeline/run/stages.ts";
import { readStageRecord } from "../../pipeline/store/runs.ts";
import { parseItems } from "../../pipeline/train/dataset.ts";
import { runModelDir } from "../../pipeline/train/fetch-artifact.ts";
import { cardDataFromRun } from "../../reports/from-run.ts";
import { renderCard } from "../../reports/markdown.ts";
import { json, runCli } from "../helpers/cli.ts";
import { hex, tempDir } from "../helpers/rows.ts";
import { readFileSync, writeFileSync } from "node:fs";

type Traffic = "like training" | "shifted";

async function monitoredRun(traffic: Traffic) {
  const dir = tempDir();
  const gates = join(dir, "gates.yml");
  writeFileSync(
    gates,
    [
      "version: 1",
      "gates:",
      "  - name: unknown-skus-answered",
      "    kind: absolute",
      "    metric: unknown_sku_validity",
      "    min: 1",
      "  - name: popularity-drift",
      "    kind: drift",
      "    metric: popularity_psi",
      "    max: 0.25",
      "",
    ].join("\n"),
  );
  const flags = {
    store: join(dir, "store"),
    warehouse: `duckdb:${join(dir, "wh.duckdb")}`,
    "data.dir": join(dir, "data"),
    "data.sessions": "600",
    "data.skus": "150",
    "train.epochs": "1",
    "evaluate.gates": gates,
    "evaluate.bootstrap": "50",
    "transform.dbt": "builtin",
  };
  const context = (runId: string) =>
    createContext(loadConfig({ env: {}, cwd: dir, flags }).config, runId, silentReporter());

  // 1. A model, trained and evaluated without any traffic.
  const first = context("m1");
  await runPipeline(first, ["upload", "transform", "train", "evaluate"]);
  const test = await (
    await first.warehouse()
  ).query("select items from session_sequences order by session_key limit 120");
  const popularity = await (
    await first.warehouse()
  ).query("select sku from baseline_popularity order by train_popularity asc, sku limit 40");
  const modelDir = await runModelDir(first.store, "m1", join(dir, "model"));
  await first.close();
  expect((await readStageResult(first.store, "m1", "evaluate"))?.result?.drift).toBeUndefined();

  // 2. Served, with every request logged where the upload looks for traffic.
  const log = createRequestLog({ dir: join(dir, "store", "requests"), sampleRate: 1, seed: 1 });
  const server = await startModelServer({ modelDir, port: 0, host: "127.0.0.1", requestLog: log });
  await server.ready;
  const tail = popularity.map((r) => String(r.sku));
  const sessions = test.map((row, i): string[] => {
    const items = parseItems(row.items ?? null, `test ${i}`).slice(0, 6);
    if (traffic === "like training") return items;
    // The catalog's least popular items, and a third of the sessions ending in unknown SKUs.
    const shifted = items.map((_, j) => tail[(i * 7 + j) % tail.length] as string);
    return i % 3 === 0 ? [...shifted, hex(`unknown-${i}`)] : shifted;
  });
  for (let i = 0; i < sessions.length; i += 10) {
    const response = await fetch(`${server.url}/invocations`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ sessions: sessions.slice(i, i + 10), k: 20 }),
    });
    expect(response.status).toBe(200);
  }
  await server.close();
  expect((await log.close()).requestsLogged).toBe(12);

  // 3. The next run: traffic loaded, training reused, the drift measured and shown.
  const second = context("m2");
  await runPipeline(second, ["upload", "transform", "train", "evaluate"]);
  const served = await (
    await second.warehouse()
  ).query("select count(*) as n, min(model_run_id) as model from served_sessions");
  await second.close();
  expect(served[0]).toEqual({ n: sessions.filter((s) => s.length > 0).length, model: "m1" });
  expect((await readStageRecord(second.store, "m2", "train"))?.reused?.runId).toBe("m1");
  const evaluation = (await readStageResult(second.store, "m2", "evaluate"))?.result;
  const card = renderCard(await cardDataFromRun(second.store, "m2", {}));

  // 4. The daily check: `pipeline drift` on the production model (m1, promoted now).
  const promoting = context("m1");
  await promoteStage(promoting, { force: true });
  await promoting.close();
  const summary = join(dir, "summary.md");
  const check = await runCli(["drift", "--json", "--summary", summary], {
    cwd: dir,
    env: {
      MLOPS_STORE: flags.store,
      MLOPS_WAREHOUSE: flags.warehouse,
      MLOPS_DATA_DIR: flags["data.dir"],
      MLOPS_SESSIONS: flags["data.sessions"],
      MLOPS_SKUS: flags["data.skus"],
      MLOPS_GATES_FILE: gates,
      MLOPS_EVAL_BOOTSTRAP: "50",
      MLOPS_DBT: "builtin",
    },
  });
  return {
    drift: evaluation?.drift,
    gates: evaluation?.gates,
    card,
    check: { code: check.code, stderr: check.stderr, json: json<DriftJson>(check) },
    summary: readFileSync(summary, "utf8"),
  };
}

interface DriftJson {
  productionRunId: string;
  drift: { popularity: { psi: number } };
  gates: { passed: boolean; checks: { name: string; verdict: string }[] };
}

describe("drift of production traffic", () => {
  it("is measured on the next run and shown in its card; shifted traffic moves every figure", async () => {
    const normal = await monitoredRun("like training");
    const shifted = await monitoredRun("shifted");
    for (const run of [normal, shifted]) {
      expect(run.card).toContain("### Drift: production traffic against the training data");
      expect(run.card).toMatch(/Item-popularity PSI/);
      expect(run.drift?.servedSessions).toBeGreaterThan(100);
    }
    const [a, b] = [normal.drift, shifted.drift];
    if (!a || !b) throw new Error("no drift report");
    expect(b.popularity.psi).toBeGreaterThan(a.popularity.psi + 0.25);
    expect(b.popularity.jensenShannon).toBeGreaterThan(a.popularity.jensenShannon);
    expect(b.unknownSkuRate).toBeGreaterThan(a.unknownSkuRate);
    expect(b.outOfVocabularyShare).toBeGreaterThan(a.outOfVocabularyShare);
    expect(a.popularity.psi).toBeLessThan(0.25);
    // The drift gate judges the traffic, never the candidate: a warning, not a failure.
    const gate = (run: typeof normal) =>
      run.gates?.checks.find((c) => c.name === "popularity-drift")?.verdict;
    expect(gate(normal)).toBe("pass");
    expect(gate(shifted)).toBe("warn");
    expect(shifted.gates?.passed).toBe(true);

    // `pipeline drift` judges the same figures with `blocking` honoured: exit 1 on the shift.
    expect(normal.check.code, normal.check.stderr).toBe(0);
    expect(shifted.check.code, shifted.check.stderr).toBe(1);
    expect(shifted.check.stderr).toMatch(/1 blocking drift gate\(s\) failed: popularity-drift/);
    for (const run of [normal, shifted]) {
      expect(run.check.json.productionRunId).toBe("m1");
      expect(run.summary).toContain("### Drift of production traffic · the model of run `m1`");
    }
    expect(shifted.check.json.gates.checks).toEqual([
      expect.objectContaining({ name: "popularity-drift", verdict: "fail" }),
    ]);
  }, 240_000);
});
