/**
 * `pipeline drift`: the production model against the traffic it serves, outside any candidate's
 * evaluation. It loads the dataset and the production traffic (upload), builds the tables
 * (transform, reused while nothing changed), measures the drift of the served sessions from the
 * training split with the production model replayed on them, and judges the `drift` gates of
 * gates.yml with their `blocking` flag: a failed blocking one is what the daily drift.yml
 * workflow starts a retraining on.
 */
import { loadGates, type GateResult, evaluateDriftGates } from "../evaluate/gates.ts";
import { ModelRecommender } from "../evaluate/model-recommender.ts";
import { readCatalog, readSplit, resolveGatesFile } from "../evaluate/stage.ts";
import { InputError } from "../errors.ts";
import { loadModelArtifact } from "../model/artifact.ts";
import type { RunContext } from "../run/context.ts";
import { recordStage } from "../run/stage-runner.ts";
import { uploadStage, transformStage } from "../run/stages.ts";
import { readProduction } from "../store/registry.ts";
import { stageKey } from "../store/runs.ts";
import { runModelDir } from "../train/fetch-artifact.ts";
import { measureDrift, readServedSessions, type DriftReport } from "./drift.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface DriftCheckResult {
  /** The run in production whose model was replayed. */
  productionRunId: string;
  drift: DriftReport;
  gates: GateResult;
  gatesFile: string;
  /** Store key of the drift report. */
  report: string;
}

export async function checkDrift(ctx: RunContext): Promise<DriftCheckResult> {
  const production = await readProduction(ctx.store);
  if (!production) {
    throw new InputError(
      `no model is in production in ${ctx.store.location}: there is nothing to check for drift`,
      { field: "store" },
      "Point --store (MLOPS_STORE) at the run store the pipeline promotes into.",
    );
  }
  const gatesFile = resolveGatesFile(ctx.config.evaluate.gates);
  const gateConfig = await loadGates(gatesFile); // a bad gate file fails before any work
  await uploadStage(ctx);
  await transformStage(ctx);
  return recordStage(ctx, "drift", async () => {
    const warehouse = await ctx.warehouse();
    const served = await readServedSessions(warehouse);
    if (served.length === 0) {
      throw new InputError(
        "the warehouse holds no production traffic: no request log or capture file was found",
        { field: "monitor.traffic" },
        "Set monitor.traffic (MLOPS_TRAFFIC) to where the server's request logs (serve.logSampleRate) or SageMaker Data Capture files are.",
      );
    }
    const [train, catalog] = await Promise.all([
      readSplit(warehouse, "train"),
      readCatalog(warehouse),
    ]);
    const scratch = await mkdtemp(join(tmpdir(), "mlops-drift-"));
    let drift: DriftReport;
    try {
      const model = await loadModelArtifact(
        await runModelDir(ctx.store, production.runId, scratch),
      );
      drift = await measureDrift({
        train,
        served,
        catalog,
        model: new ModelRecommender(model, `production (run ${production.runId})`, "model"),
        bootstrap: { iterations: ctx.config.evaluate.bootstrap, seed: ctx.config.evaluate.seed },
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
    const gates = evaluateDriftGates(gateConfig, drift);
    const report = stageKey(ctx.runId, "drift", "drift.json");
    await ctx.store.put(
      report,
      JSON.stringify({ productionRunId: production.runId, drift, gates }, null, 2),
    );
    const result: DriftCheckResult = {
      productionRunId: production.runId,
      drift,
      gates,
      gatesFile,
      report,
    };
    return {
      result,
      inputs: [],
      outputs: ["drift.json"],
      counts: {
        served_sessions: drift.servedSessions,
        served_events: drift.servedEvents,
        checks_failed: gates.checks.filter((c) => c.verdict === "fail").length,
      },
    };
  });
}
