/**
 * The evaluation on generated data that went through the real upload and the built-in dbt
 * runner on DuckDB: baselines built from the marts (baseline_popularity, baseline_next_item,
 * the train sequences), the oracle from the generator's model, every one of them evaluated on
 * the test split. The generator guarantees the oracle is Bayes-optimal for these sequences, and
 * the process makes the previous item informative, so: oracle ≥ every baseline, and
 * co-occurrence > popularity.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../pipeline/data/generator/index.ts";
import { loadGenerativeModel, Oracle } from "../../pipeline/data/oracle.ts";
import { Catalog, type EvalSession } from "../../pipeline/evaluate/catalog.ts";
import { buildBaselines } from "../../pipeline/evaluate/baselines.ts";
import { countTransitions, type Transition } from "../../pipeline/evaluate/cooccurrence.ts";
import { evaluateAll, type EvaluationReport } from "../../pipeline/evaluate/evaluate.ts";
import { formatGateTable, formatMetricTable } from "../../pipeline/evaluate/format.ts";
import { evaluateGates, loadGates } from "../../pipeline/evaluate/gates.ts";
import { OracleRecommender } from "../../pipeline/evaluate/oracle-recommender.ts";
import { countItems } from "../../pipeline/evaluate/popularity.ts";
import { parseItems } from "../../pipeline/train/dataset.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { tempDir } from "../helpers/rows.ts";
import { buildWith, uploadInto } from "../helpers/transform.ts";

const dir = tempDir("evaluate-generated-");
let warehouse: DuckDbWarehouse;
let train: EvalSession[];
let test: EvalSession[];
let catalog: Catalog;
let popularityCounts: Map<string, number>;
let transitions: Transition[];
let oracle: Oracle;

async function split(name: string): Promise<EvalSession[]> {
  const rows = await warehouse.query(
    `select q.session_key, q.items from session_sequences q
     join session_splits s using (session_key)
     where s.split = $1 order by s.session_start_ms, q.session_key`,
    [name],
  );
  return rows.map((r) => {
    const key = String(r.session_key);
    return { key, items: parseItems(r.items ?? null, key) };
  });
}

beforeAll(async () => {
  const data = await generate({ outDir: join(dir, "data"), sessions: 3_000, skus: 500, seed: 11 });
  oracle = new Oracle(await loadGenerativeModel(data.files.model));
  warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
  await uploadInto(warehouse, data.outDir, "run-1");
  const outcome = await buildWith(warehouse);
  expect(outcome.runs.filter((r) => r.status !== "success" && r.status !== "pass")).toEqual([]);

  train = await split("train");
  test = await split("test");
  const items = await warehouse.query(
    "select sku, category_path, price_bucket, train_popularity from item_catalog",
  );
  catalog = new Catalog(
    items.map((r) => ({
      sku: String(r.sku),
      categoryPath: r.category_path === null ? null : String(r.category_path),
      priceBucket: r.price_bucket === null ? null : Number(r.price_bucket),
      trainPopularity: Number(r.train_popularity),
    })),
  );
  popularityCounts = new Map(
    (await warehouse.query("select sku, train_popularity from baseline_popularity")).map((r) => [
      String(r.sku),
      Number(r.train_popularity),
    ]),
  );
  transitions = (
    await warehouse.query("select sku, next_sku, transitions from baseline_next_item")
  ).map((r) => ({
    sku: String(r.sku),
    nextSku: String(r.next_sku),
    transitions: Number(r.transitions),
  }));
}, 120_000);

afterAll(async () => {
  await warehouse?.close();
});

describe("evaluation on generated data", () => {
  let report: EvaluationReport;

  beforeAll(async () => {
    report = await evaluateAll(
      [
        ...buildBaselines({ train, popularity: popularityCounts, transitions }),
        new OracleRecommender(oracle),
      ],
      test,
      catalog,
      { bootstrapIterations: 300, robustnessSessions: 200, candidate: "cooccurrence" },
    );
  }, 60_000);

  it("builds the same baselines from the marts as from the train sequences", () => {
    expect(popularityCounts).toEqual(countItems(train));
    const key = (t: Transition) => `${t.sku} ${t.nextSku} ${t.transitions}`;
    expect(transitions.map(key).sort()).toEqual(countTransitions(train).map(key).sort());
  });

  it("ranks the oracle first and co-occurrence above popularity", () => {
    expect(report.counts.prefixes).toBeGreaterThan(300);
    const hr = (name: string) =>
      report.recommenders.find((r) => r.name === name)?.metrics["hr@20"].value as number;
    for (const name of ["popularity", "cooccurrence", "sknn"]) {
      expect(hr("oracle"), name).toBeGreaterThanOrEqual(hr(name));
    }
    expect(hr("cooccurrence")).toBeGreaterThan(hr("popularity"));
    // Not just the point estimates: the paired interval of the difference says so too.
    const paired = report.comparisons.find(
      (c) => c.reference === "popularity" && c.metric === "hr@20",
    );
    expect(paired?.candidate).toBe("cooccurrence");
    expect(paired?.ci?.low).toBeGreaterThan(0);
  });

  it("answers every unknown-SKU session validly, and measures the rest", () => {
    for (const r of report.recommenders) {
      expect(r.metrics.unknown_sku_validity, r.name).toEqual({ value: 1, n: 50 });
      expect(r.metrics.perturbation_overlap.n, r.name).toBeGreaterThan(0);
      expect(r.metrics.less_wrong_distance.n, r.name).toBeGreaterThan(0);
      expect(r.slices.reduce((n, s) => n + (s.family === "session_length" ? s.n : 0), 0)).toBe(
        report.counts.prefixes,
      );
    }
    // Test sessions hold SKUs that train never saw (the evaluation must face them).
    const unseen = report.recommenders[0]?.slices.find(
      (s) => s.family === "target_in_train" && s.slice === "unseen",
    );
    expect(unseen?.n).toBeGreaterThan(0);
  });

  it("passes the default gates with the oracle as a stand-in candidate", async () => {
    const config = await loadGates(join(import.meta.dirname, "../../gates.yml"));
    const asCandidate = { ...report, roles: { candidate: "oracle", production: null } };
    const result = evaluateGates(config, asCandidate);
    const failed = result.checks.filter((c) => c.verdict === "fail");
    expect(failed, formatGateTable(result)).toEqual([]);
    expect(formatMetricTable(report)).toMatch(/^oracle\s+oracle\s/m);
  });
});
