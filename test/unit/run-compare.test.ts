/**
 * `pipeline runs compare A B` on two hand-written runs in a folder store: the settings that
 * differ, the data hashes, the stage cache keys and reuse, the metric deltas, and the paired
 * interval of the candidates, which needs both runs' outcomes on the same test prefixes.
 */
import { describe, expect, it } from "vitest";
import { outcomesKey, type EvaluationOutcomes } from "../../pipeline/evaluate/outcomes.ts";
import { compareRuns } from "../../pipeline/run/compare.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { writeStageRecord, type StageRecord } from "../../pipeline/store/runs.ts";
import { json, runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";

const KEY = (c: string) => c.repeat(64);

function record(runId: string, stage: string, minute: number, extra: Partial<StageRecord> = {}) {
  const startedAt = `2026-11-23T10:${String(minute).padStart(2, "0")}:00.000Z`;
  return {
    runId,
    stage,
    status: "succeeded",
    startedAt,
    finishedAt: startedAt,
    seconds: 1,
    inputs: [],
    outputs: [],
    counts: {},
    versions: {},
    result: null,
    ...extra,
  } satisfies StageRecord;
}

/** An evaluate result with only what compare reads: the roles and HR@20 / MRR@20. */
function evaluation(candidate: string, figures: Record<string, [number, number]>) {
  return {
    report: {
      roles: { candidate, production: null },
      recommenders: Object.entries(figures).map(([name, [hr, mrr]]) => ({
        name,
        metrics: {
          "hr@20": { value: hr, n: 8, ci: { low: hr - 0.1, high: hr + 0.1, level: 0.95 } },
          "mrr@20": { value: mrr, n: 8 },
        },
      })),
    },
  };
}

/** Four sessions of two prefixes each; `hits` per prefix, rank 1 for a hit. */
function outcomes(split: string, name: string, hits: number[]): EvaluationOutcomes {
  return {
    format: "mlops-session-recs/outcomes@1",
    split,
    sessions: ["s1", "s2", "s3", "s4"].map((key) => ({ key, prefixes: 2 })),
    recommenders: { [name]: { hit20: hits, rr20: hits.map((h) => h / 2) } },
  };
}

async function writeRun(
  store: LocalStore,
  runId: string,
  options: {
    minute: number;
    settings: Record<string, string | number | boolean>;
    browsingSha: string;
    trainKey: string;
    reusedTransformFrom?: string;
    figures: Record<string, [number, number]>;
    outcomes?: EvaluationOutcomes;
  },
): Promise<void> {
  const { minute, settings } = options;
  await writeStageRecord(
    store,
    record(runId, "upload", minute, {
      settings,
      inputs: [
        { name: "data/browsing_train.csv", sha256: options.browsingSha },
        { name: "data/sku_to_content.csv", sha256: KEY("c") },
      ],
    }),
  );
  await writeStageRecord(
    store,
    record(runId, "transform", minute + 1, {
      settings,
      inputs: [{ name: "raw_browsing_events", sha256: KEY("d") }],
      cache: { key: KEY("1"), code: "", settings: "", inputs: {} },
      ...(options.reusedTransformFrom
        ? { reused: { runId: options.reusedTransformFrom, mode: "copied", files: 2 } }
        : {}),
    }),
  );
  await writeStageRecord(
    store,
    record(runId, "train", minute + 2, {
      settings,
      cache: { key: options.trainKey, code: "", settings: "", inputs: {} },
    }),
  );
  await writeStageRecord(
    store,
    record(runId, "evaluate", minute + 3, {
      settings,
      result: evaluation("hybrid", options.figures),
    }),
  );
  if (options.outcomes) {
    await store.put(outcomesKey(runId), JSON.stringify(options.outcomes));
  }
}

async function twoRuns(splitB = "same-split") {
  const dir = tempDir("compare-");
  const store = new LocalStore(dir);
  await writeRun(store, "run-a", {
    minute: 0,
    settings: { "train.epochs": 5, "data.sessions": 2000, store: "(set)" },
    browsingSha: KEY("a"),
    trainKey: KEY("2"),
    figures: { hybrid: [0.5, 0.25], popularity: [0.3, 0.1] },
    outcomes: outcomes("same-split", "hybrid", [1, 0, 1, 0, 0, 0, 1, 1]),
  });
  await writeRun(store, "run-b", {
    minute: 10,
    settings: { "train.epochs": 8, "data.sessions": 2000, store: "(set)" },
    browsingSha: KEY("b"),
    trainKey: KEY("3"),
    reusedTransformFrom: "run-a",
    figures: { hybrid: [0.625, 0.3125], popularity: [0.3, 0.1], sknn: [0.4, 0.2] },
    outcomes: outcomes(splitB, "hybrid", [1, 1, 1, 0, 0, 1, 1, 0]),
  });
  return { dir, store };
}

describe("runs compare", () => {
  it("says which settings, data and stage keys differ, and how the metrics moved", async () => {
    const { store } = await twoRuns();
    const c = await compareRuns(store, "run-a", "run-b");

    expect(c.settings).toEqual({
      from: { a: "evaluate", b: "evaluate" },
      differences: [{ key: "train.epochs", a: 5, b: 8 }],
    });
    expect(c.data.map((d) => [d.stage, d.name, d.verdict])).toEqual([
      ["upload", "data/browsing_train.csv", "different"],
      ["upload", "data/sku_to_content.csv", "equal"],
      ["transform", "raw_browsing_events", "equal"],
    ]);
    expect(c.stages.map((s) => [s.stage, s.sameKey, s.b?.reusedFrom ?? null])).toEqual([
      ["upload", null, null],
      ["transform", true, "run-a"],
      ["train", false, null],
      ["evaluate", null, null],
    ]);

    const hr = (recommender: string) =>
      c.metrics.find((m) => m.recommender === recommender && m.metric === "hr@20");
    expect(hr("candidate")).toMatchObject({
      names: { a: "hybrid", b: "hybrid" },
      a: { value: 0.5, low: 0.4, high: 0.6 },
      b: { value: 0.625 },
      difference: 0.125,
    });
    expect(hr("popularity")?.difference).toBe(0);
    // A recommender only one run evaluated has no delta.
    expect(hr("sknn")).toMatchObject({ a: null, difference: null });
  });

  it("pairs the candidates on the same test prefixes", async () => {
    const { store } = await twoRuns();
    const { paired } = await compareRuns(store, "run-a", "run-b");
    expect(paired.available).toBe(true);
    if (!paired.available) return;
    expect(paired.prefixes).toBe(8);
    const hr = paired.deltas.find((d) => d.metric === "hr@20");
    // 5 hits against 4, on 8 prefixes.
    expect(hr?.difference).toBeCloseTo(0.125, 10);
    expect(hr?.low).toBeLessThanOrEqual(0.125);
    expect(hr?.high).toBeGreaterThanOrEqual(0.125);
    expect(hr?.level).toBe(0.95);
  });

  it("gives no paired interval when the runs evaluated different prefixes, and says why", async () => {
    const { store } = await twoRuns("another-split");
    const { paired } = await compareRuns(store, "run-a", "run-b");
    expect(paired.available).toBe(false);
    if (paired.available) return;
    expect(paired.reason).toMatch(/different test prefixes/);
  });

  it("prints one JSON object, and exits 2 naming an unknown run", async () => {
    const { dir } = await twoRuns();
    const ok = await runCli(["runs", "compare", "run-a", "run-b", "--store", dir, "--json"]);
    expect(ok.code).toBe(0);
    expect(json(ok)).toMatchObject({ a: "run-a", b: "run-b", paired: { available: true } });

    const human = await runCli(["runs", "compare", "run-a", "run-b", "--store", dir]);
    expect(human.stderr).toContain("train.epochs");
    expect(human.stderr).toMatch(/candidate B − A on the same 8 test prefixes/);

    const missing = await runCli(["runs", "compare", "run-a", "run-x", "--store", dir]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no run "run-x"');
    expect(missing.stderr).toContain("npx pipeline runs");
  });
});
