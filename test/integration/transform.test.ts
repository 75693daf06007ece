/**
 * The whole dbt project built by the built-in runner on a real DuckDB file over generated data:
 * every test passes, row counts add up, the split does not leak, the sequences are exactly the
 * generator's evaluable process-sessions (what makes its oracle valid), and a second load of
 * overlapping data changes nothing.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate, type GenerateResult } from "../../pipeline/data/generator/index.ts";
import type { BuiltinOutcome } from "../../pipeline/transform/builtin/builtin.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { validate, type Schema } from "../helpers/json-schema.ts";
import { tempDir } from "../helpers/rows.ts";
import { buildWith, statuses, uploadInto } from "../helpers/transform.ts";

const dir = tempDir("transform-test-");
let data: GenerateResult;
let warehouse: DuckDbWarehouse;
let first: BuiltinOutcome;

beforeAll(async () => {
  data = await generate({ outDir: join(dir, "data"), sessions: 2_000, skus: 600, seed: 11 });
  warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
  await uploadInto(warehouse, data.outDir, "run-1");
  first = await buildWith(warehouse);
});

afterAll(async () => {
  await warehouse.close();
});

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  return warehouse.query(sql);
}

async function scalar(sql: string): Promise<number> {
  const [row] = await rows(sql);
  return Number(Object.values(row ?? {})[0]);
}

describe("the dbt project on generated data", () => {
  it("builds every model and passes every test", () => {
    const failing = first.runs.filter((r) => r.status !== "success" && r.status !== "pass");
    expect(failing).toEqual([]);
    expect(first.runs.filter((r) => r.resourceType === "model")).toHaveLength(
      first.graph.models.length,
    );
    expect(first.runs.filter((r) => r.resourceType === "test")).toHaveLength(
      first.graph.tests.length,
    );
  });

  it("keeps every raw event once and counts consistently from layer to layer", async () => {
    const raw = await scalar("select count(*) from raw_browsing_events");
    expect(raw).toBe(data.counts.browsingRows);
    expect(await scalar("select count(*) from stg_browsing_events")).toBe(raw);
    expect(await scalar("select count(*) from int_sessionized_events")).toBe(raw);
    expect(await scalar("select count(*) from stg_sku_content")).toBe(data.counts.catalogRows);
    expect(await scalar("select count(*) from stg_search_events")).toBe(data.counts.searchRows);
    // Every process-session with an item is one session holding interactions.
    expect(await scalar("select count(distinct session_key) from int_session_interactions")).toBe(
      data.counts.processSessions,
    );
    expect(await scalar("select count(*) from session_sequences")).toBe(
      data.counts.evaluableSessions,
    );
    expect(await scalar("select count(*) from session_splits")).toBe(data.counts.evaluableSessions);
    const modelRows = Object.fromEntries(
      first.runs
        .filter((r) => r.resourceType === "model")
        .map((r) => [r.uniqueId.split(".").pop(), r.rows]),
    );
    expect(modelRows.session_sequences).toBe(data.counts.evaluableSessions);
  });

  it("gives exactly the generator's evaluable process-sessions, as oracle_topk.csv lists them", async () => {
    const oracle = Papa.parse<Record<string, string>>(readFileSync(data.files.oracle, "utf8"), {
      header: true,
      skipEmptyLines: true,
    }).data;
    const expected = oracle
      .map((r) => `${r.session_id_hash}|${r.session_start_ms}|${r.position}|${r.target_sku}`)
      .sort();
    const got = (
      await rows(
        "select session_id, session_start_ms, sequence_length, items[sequence_length] as last from session_sequences",
      )
    )
      .map((r) => `${r.session_id}|${r.session_start_ms}|${r.sequence_length}|${r.last}`)
      .sort();
    expect(got).toEqual(expected);
  });

  it("splits by time 80/10/10 with no test session starting before a train session ends", async () => {
    const sizes = Object.fromEntries(
      (await rows("select split, count(*) as n from session_splits group by split")).map((r) => [
        r.split,
        Number(r.n),
      ]),
    );
    const n = data.counts.evaluableSessions;
    expect(sizes.train).toBe(Math.floor(n * 0.8));
    expect(sizes.train + sizes.validation + sizes.test).toBe(n);
    expect(sizes.test / n).toBeGreaterThan(0.05);
    const [bounds] = await rows(`
      select
        (select max(session_end_ms) from session_splits where split = 'train') as train_end,
        (select min(session_start_ms) from session_splits where split = 'test') as test_start,
        (select max(session_start_ms) from session_splits where split = 'train') as train_last_start,
        (select min(session_start_ms) from session_splits where split = 'validation') as validation_first_start`);
    expect(Number(bounds?.test_start)).toBeGreaterThan(Number(bounds?.train_end));
    expect(Number(bounds?.validation_first_start)).toBeGreaterThanOrEqual(
      Number(bounds?.train_last_start),
    );
    // SKUs first seen after train stay in test: the evaluation must face them.
    const unseen = await scalar(`
      select count(*) from int_session_interactions i
      join session_splits s on s.session_key = i.session_key and s.split = 'test'
      join item_catalog c on c.sku = i.sku and c.train_popularity = 0`);
    expect(unseen).toBeGreaterThan(0);
  });

  it("computes the baselines from train sequences only", async () => {
    const popularity = await scalar("select sum(train_popularity) from baseline_popularity");
    const trainSteps = await scalar(`
      select count(*) from int_session_interactions i
      join session_splits s on s.session_key = i.session_key and s.split = 'train'`);
    expect(popularity).toBe(trainSteps);
    const transitions = await scalar("select sum(transitions) from baseline_next_item");
    const trainSessions = await scalar("select count(*) from session_splits where split = 'train'");
    expect(transitions).toBe(trainSteps - trainSessions);
  });

  it("changes nothing when overlapping data is loaded a second time", async () => {
    const before = await rows(
      "select session_key, items, session_start_ms from session_sequences order by session_key",
    );
    // The same events in another order: a different file (new hash), so it loads again.
    const again = join(dir, "again");
    mkdirSync(again);
    const [header, ...lines] = readFileSync(data.files.browsing, "utf8").trimEnd().split("\n");
    writeFileSync(
      join(again, "browsing_train.csv"),
      `${[header, ...lines.reverse()].join("\n")}\n`,
    );
    copyFileSync(data.files.search, join(again, "search_train.csv"));
    copyFileSync(data.files.catalog, join(again, "sku_to_content.csv"));
    const load = await uploadInto(warehouse, again, "run-2");
    expect(load.totals.loaded).toBe(data.counts.browsingRows);
    expect(await scalar("select count(*) from raw_browsing_events")).toBe(
      2 * data.counts.browsingRows,
    );

    const second = await buildWith(warehouse);
    expect(Object.values(statuses(second)).every((s) => s === "success" || s === "pass")).toBe(
      true,
    );
    expect(await scalar("select count(*) from stg_browsing_events")).toBe(data.counts.browsingRows);
    const after = await rows(
      "select session_key, items, session_start_ms from session_sequences order by session_key",
    );
    expect(after).toEqual(before);
  });

  it("writes a manifest and run results that validate against dbt's own schemas", () => {
    const schema = (name: string) =>
      JSON.parse(
        readFileSync(new URL(`../fixtures/dbt-schemas/${name}`, import.meta.url), "utf8"),
      ) as Schema;
    // Through JSON, as a reader of target/*.json sees them.
    const manifest = JSON.parse(JSON.stringify(first.manifest)) as Record<string, unknown>;
    const results = JSON.parse(JSON.stringify(first.runResults)) as Record<string, unknown>;
    expect(validate(schema("manifest-v12.subset.json"), manifest, "$", true)).toEqual([]);
    expect(validate(schema("run-results-v6.json"), results, "$", true)).toEqual([]);
    const nodes = manifest.nodes as Record<
      string,
      { resource_type: string; depends_on: { nodes: string[] } }
    >;
    expect(Object.values(nodes).filter((n) => n.resource_type === "model")).toHaveLength(13);
    expect(nodes["model.mlops_session_recs.session_splits"]?.depends_on.nodes).toEqual([
      "model.mlops_session_recs.session_sequences",
    ]);
    // The checker itself refuses what dbt's schema refuses.
    const broken = structuredClone(manifest);
    const model = (broken.nodes as Record<string, Record<string, unknown>>)[
      "model.mlops_session_recs.session_splits"
    ] as Record<string, unknown>;
    delete model.checksum;
    model.resource_type = "table";
    expect(validate(schema("manifest-v12.subset.json"), broken).length).toBeGreaterThan(0);
  });
});
