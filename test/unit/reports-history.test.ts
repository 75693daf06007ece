/**
 * The card's history: the last production models' HR@20 from the registry, then this run's
 * candidate; no history (and so no chart) while nothing was ever in production.
 */
import { describe, expect, it } from "vitest";
import { recordPromotion } from "../../pipeline/store/registry.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { writeStageRecord } from "../../pipeline/store/runs.ts";
import { cardDataFromRun } from "../../reports/from-run.ts";
import { tempDir } from "../helpers/rows.ts";

async function promote(store: LocalStore, runId: string, hr: number, day: number): Promise<void> {
  const gates = { passed: true, failedBlocking: [] };
  await recordPromotion(
    store,
    {
      runId,
      deployment: { target: "local", endpoint: "http://127.0.0.1:8080" },
      metrics: {
        hr20: { value: hr, lower: hr - 0.01, upper: hr + 0.01 },
        mrr20: { value: hr / 3, lower: hr / 3 - 0.01, upper: hr / 3 + 0.01 },
        examples: 500,
      },
      gates,
      decision: { promote: true, forced: false, verdict: "better", reason: "better" },
    },
    new Date(Date.UTC(2026, 10, day)),
  );
}

/** The candidate's evaluate record, with only what the card reads of it. */
async function evaluated(store: LocalStore, runId: string, hr: number): Promise<void> {
  const metric = (value: number) => ({
    value,
    n: 500,
    ci: { low: value - 0.02, high: value + 0.02, level: 0.95 },
  });
  await writeStageRecord(store, {
    runId,
    stage: "evaluate",
    status: "succeeded",
    startedAt: "2026-11-23T10:00:00.000Z",
    finishedAt: "2026-11-23T10:00:01.000Z",
    seconds: 1,
    inputs: [],
    outputs: [],
    counts: {},
    versions: {},
    result: {
      report: {
        roles: { candidate: "hybrid", production: null },
        recommenders: [
          {
            name: "hybrid",
            kind: "model",
            metrics: {
              "hr@20": metric(hr),
              "mrr@20": metric(hr / 3),
              "coverage@20": { value: null, n: 0 },
              popularity_bias: { value: null, n: 0 },
              repeat_share: { value: null, n: 0 },
              perturbation_overlap: { value: null, n: 0 },
              shuffle_overlap: { value: null, n: 0 },
              unknown_sku_validity: { value: null, n: 0 },
            },
            slices: [],
          },
        ],
        comparisons: [],
      },
      gates: { passed: true, checks: [] },
      artifacts: { report: `runs/${runId}/evaluate/report.json`, gates: "" },
    },
  });
}

describe("the card's production history", () => {
  it("holds the last eight production models, oldest first, then the candidate", async () => {
    const store = new LocalStore(tempDir("history-"));
    for (let day = 1; day <= 10; day++) await promote(store, `prod-${day}`, 0.2 + day / 100, day);
    await evaluated(store, "cand", 0.33);

    const { history } = await cardDataFromRun(store, "cand");
    expect(history?.map((p) => [p.runId, p.kind])).toEqual([
      ...[3, 4, 5, 6, 7, 8, 9, 10].map((day) => [`prod-${day}`, "production"]),
      ["cand", "candidate"],
    ]);
    const oldest = 0.2 + 3 / 100;
    expect(history?.[0]).toMatchObject({
      promotedAt: "2026-11-03T00:00:00.000Z",
      hr20: { value: oldest, low: oldest - 0.01, high: oldest + 0.01, n: 500 },
    });
    expect(history?.at(-1)?.hr20).toMatchObject({
      value: 0.33,
      low: 0.33 - 0.02,
      high: 0.33 + 0.02,
    });
  });

  it("is absent while nothing was ever in production", async () => {
    const store = new LocalStore(tempDir("history-"));
    await evaluated(store, "cand", 0.33);
    expect((await cardDataFromRun(store, "cand")).history).toBeUndefined();
  });
});
