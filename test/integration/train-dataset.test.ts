/**
 * The training data on real DuckDB: hand-made marts whose every id and count is checked by hand,
 * and the marts the built-in dbt runner builds from generated data, where every session must
 * come out exactly once, in time order, whatever the page size. (The batches made from the
 * loaded sessions are tested in test/unit/train-batches.test.ts.)
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../pipeline/data/generator/index.ts";
import {
  buildVocabulary,
  loadSplit,
  parseItems,
  readSessions,
  summarizeSplit,
  type MartRelations,
} from "../../pipeline/train/dataset.ts";
import type { SessionBlock } from "../../pipeline/model/sessions.ts";
import { UNKNOWN_ID } from "../../pipeline/model/sequences.ts";
import { Vocabulary } from "../../pipeline/model/vocabulary.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import type { SqlValue, Warehouse } from "../../pipeline/warehouse/warehouse.ts";
import { tempDir } from "../helpers/rows.ts";
import { buildWith, uploadInto } from "../helpers/transform.ts";

/** The sessions of a block as arrays of ids. */
function sessionsOf(block: SessionBlock): number[][] {
  const out: number[][] = [];
  for (let s = 0; s + 1 < block.offsets.length; s++) {
    out.push([...block.ids.subarray(block.offsets[s] as number, block.offsets[s + 1] as number)]);
  }
  return out;
}

describe("hand-made marts", () => {
  let warehouse: DuckDbWarehouse;
  const relations: MartRelations = { sequences: "hand_sequences", splits: "hand_splits" };

  beforeAll(async () => {
    warehouse = await DuckDbWarehouse.open(":memory:");
    // The same column types as the dbt marts on DuckDB: items is a list of varchar.
    // Start times out of key order: sessions come back in time order (s3 started first).
    await warehouse.query(`create table hand_sequences as select * from (values
      ('s1-1', 2000::bigint, ['sku-a', 'sku-b', 'sku-c', 'sku-a']),
      ('s2-1', 3000::bigint, ['sku-b', 'sku-a']),
      ('s3-1', 1000::bigint, ['sku-d', 'sku-b', 'sku-e', 'sku-c']),
      ('s4-1', 3000::bigint, ['sku-e', 'sku-d']),
      ('v1-1', 5000::bigint, ['sku-a', 'sku-x', 'sku-b']),
      ('t1-1', 6000::bigint, ['sku-e', 'sku-c', 'sku-y', 'sku-a'])
    ) as t(session_key, session_start_ms, items)`);
    await warehouse.query(`create table hand_splits as select * from (values
      ('s1-1', 'train'), ('s2-1', 'train'), ('s3-1', 'train'), ('s4-1', 'train'),
      ('v1-1', 'validation'), ('t1-1', 'test')
    ) as t(session_key, split)`);
  });

  afterAll(async () => {
    await warehouse.close();
  });

  it("reads DuckDB's list column and the JSON text or array Snowflake's driver returns", async () => {
    const sessions = [];
    for await (const s of readSessions(warehouse, { split: "validation", relations })) {
      sessions.push(s);
    }
    expect(sessions).toEqual([{ sessionKey: "v1-1", items: ["sku-a", "sku-x", "sku-b"] }]);
    expect(parseItems('[\n  "a",\n  "b"\n]', "k")).toEqual(["a", "b"]);
    expect(parseItems(["a", "b"], "k")).toEqual(["a", "b"]);
    expect(() => parseItems("[1, 2]", "k")).toThrow(/session k: items holds 1/);
    expect(() => parseItems("not json", "k")).toThrow(/not a JSON array/);
    expect(() => parseItems(null, "k")).toThrow(/not a list/);
  });

  it("orders the vocabulary by train frequency, ties by SKU, from train only", async () => {
    const vocabulary = await buildVocabulary(warehouse, { relations });
    // Train counts: a 3, b 3, c 2, d 2, e 2; x and y are only in validation and test.
    expect(vocabulary.toJSON()).toMatchObject({
      minCount: 1,
      skus: ["sku-a", "sku-b", "sku-c", "sku-d", "sku-e"],
      counts: [3, 3, 2, 2, 2],
      trainSkus: 5,
    });
    expect(vocabulary.size).toBe(7);
    expect(vocabulary.id("sku-a")).toBe(2);
    expect(vocabulary.id("sku-e")).toBe(6);
    expect(vocabulary.id("sku-x")).toBe(UNKNOWN_ID);
    expect(vocabulary.sku(3)).toBe("sku-b");
    expect(vocabulary.sku(UNKNOWN_ID)).toBeUndefined();
  });

  it("maps SKUs below the minimum count to unknown, and survives a JSON round trip", async () => {
    const vocabulary = await buildVocabulary(warehouse, { relations, minCount: 3 });
    expect(vocabulary.toJSON()).toMatchObject({ skus: ["sku-a", "sku-b"], trainSkus: 5 });
    expect(vocabulary.size).toBe(4);
    expect(vocabulary.id("sku-c")).toBe(UNKNOWN_ID);
    const restored = Vocabulary.fromJSON(JSON.parse(JSON.stringify(vocabulary)));
    expect(restored.toJSON()).toEqual(vocabulary.toJSON());
    expect(restored.id("sku-b")).toBe(3);
    expect(() => Vocabulary.fromJSON({ ...vocabulary.toJSON(), counts: [1, 5] })).toThrow(
      /non-increasing/,
    );
    expect(() => Vocabulary.fromCounts(new Map(), 0)).toThrow(/minCount/);
  });

  it("loads a split in time order (ties by key), encoded, unknown SKUs as the unknown id", async () => {
    const vocabulary = await buildVocabulary(warehouse, { relations });
    // a=2 b=3 c=4 d=5 e=6. By start: s3 (1000), s1 (2000), s2 and s4 (3000, key order).
    const train = await loadSplit(warehouse, vocabulary, { split: "train", relations });
    expect(sessionsOf(train)).toEqual([
      [5, 3, 6, 4],
      [2, 3, 4, 2],
      [3, 2],
      [6, 5],
    ]);
    // Pages of one session: four queries, the same sessions.
    const paged = await loadSplit(warehouse, vocabulary, {
      split: "train",
      relations,
      pageSize: 1,
    });
    expect(paged).toEqual(train);
    const validation = await loadSplit(warehouse, vocabulary, { split: "validation", relations });
    expect(sessionsOf(validation)).toEqual([[2, UNKNOWN_ID, 3]]);
  });

  it("counts examples, unknown targets and sessions per example mode", async () => {
    const vocabulary = await buildVocabulary(warehouse, { relations });
    const validation = await loadSplit(warehouse, vocabulary, { split: "validation", relations });
    // v1 [a x b]: a → x has an unknown target, [a x] → b a known one.
    expect(summarizeSplit(validation, "sequence")).toEqual({
      sessions: 1,
      examples: 2,
      unknownTargets: 1,
      kept: 1,
      unknownTargetShare: 0.5,
    });
    expect(summarizeSplit(validation, "all-prefixes")).toEqual(
      summarizeSplit(validation, "sequence"),
    );
    // The last-item mode: one example per session.
    const test = await loadSplit(warehouse, vocabulary, { split: "test", relations });
    expect(summarizeSplit(test, "last")).toMatchObject({ sessions: 1, examples: 1, kept: 1 });
    expect(summarizeSplit(test, "sequence").unknownTargetShare).toBeCloseTo(1 / 3);
    // With minCount 3, c, d and e become unknown in train too: targets c (s1), e and c (s3), d (s4).
    const rare = await buildVocabulary(warehouse, { relations, minCount: 3 });
    const train = await loadSplit(warehouse, rare, { split: "train", relations });
    expect(summarizeSplit(train, "sequence")).toMatchObject({
      sessions: 4,
      examples: 8,
      unknownTargets: 4,
      kept: 4,
    });
  });

  it("refuses a relation name that is not an identifier path", async () => {
    const bad = { sequences: "session_sequences; drop table x", splits: "session_splits" };
    await expect(
      readSessions(warehouse, { split: "train", relations: bad }).next(),
    ).rejects.toThrow(/invalid relation name/);
  });
});

describe("marts built by dbt on generated data", () => {
  const dir = tempDir("train-dataset-test-");
  let warehouse: DuckDbWarehouse;
  let vocabulary: Vocabulary;
  let reference: SessionBlock;

  beforeAll(async () => {
    const data = await generate({ outDir: join(dir, "data"), sessions: 1_500, skus: 400, seed: 7 });
    warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
    await uploadInto(warehouse, data.outDir, "run-1");
    const outcome = await buildWith(warehouse);
    const failed = outcome.runs.filter((r) => r.status !== "success" && r.status !== "pass");
    expect(failed).toEqual([]);
    vocabulary = await buildVocabulary(warehouse, { minCount: 2 });
    reference = await loadSplit(warehouse, vocabulary, { split: "train" });
    // Enough for the page sizes below to be smaller than the split.
    expect(reference.offsets.length - 1).toBeGreaterThan(400);
  });

  afterAll(async () => {
    await warehouse.close();
  });

  it("holds exactly the train SKUs with their item_catalog popularity", async () => {
    const rows = await warehouse.query(
      "select sku, train_popularity from item_catalog where train_popularity >= 2",
    );
    expect(rows.length).toBeGreaterThan(50);
    expect(vocabulary.size).toBe(rows.length + 2);
    for (const row of rows)
      expect(vocabulary.count(String(row.sku))).toBe(Number(row.train_popularity));
    const json = vocabulary.toJSON();
    const trainSkus = await warehouse.query(
      "select count(*) as n from item_catalog where train_popularity > 0",
    );
    expect(json.trainSkus).toBe(Number(trainSkus[0]?.n));
    // Descending counts, ties by SKU.
    for (let i = 1; i < json.skus.length; i++) {
      const [a, b] = [json.skus[i - 1] as string, json.skus[i] as string];
      const [na, nb] = [json.counts[i - 1] as number, json.counts[i] as number];
      expect(na > nb || (na === nb && a < b)).toBe(true);
    }
    // SKUs first seen outside train are not in it.
    const unseen = await warehouse.query(
      "select sku from item_catalog where train_popularity = 0 and sku in (select unnest(items) from session_sequences) limit 5",
    );
    for (const row of unseen) expect(vocabulary.id(String(row.sku))).toBe(UNKNOWN_ID);
  });

  it("loads every session once, in time order, whatever the page size", async () => {
    const rows = await warehouse.query(
      "select q.items from session_sequences q join session_splits s using (session_key) where s.split = 'train' order by q.session_start_ms, q.session_key",
    );
    expect(sessionsOf(reference)).toEqual(
      rows.map((r) => Array.from(vocabulary.encode(parseItems(r.items ?? null, "k")))),
    );
    // Pages of 97 sessions: many queries, the same sessions.
    expect(await loadSplit(warehouse, vocabulary, { split: "train", pageSize: 97 })).toEqual(
      reference,
    );
  });

  it("never asks the warehouse for more than a page of sessions at once", async () => {
    const pages: number[] = [];
    const spy: Warehouse = Object.create(warehouse, {
      query: {
        value: async (sql: string, params?: SqlValue[]) => {
          const rows = await warehouse.query(sql, params);
          pages.push(rows.length);
          return rows;
        },
      },
    }) as Warehouse;
    const loaded = await loadSplit(spy, vocabulary, { split: "train", pageSize: 100 });
    expect(loaded).toEqual(reference);
    const sessions = reference.offsets.length - 1;
    // Full pages, then the remainder (or an empty page when the split divides evenly).
    const full = Math.floor(sessions / 100);
    expect(pages).toEqual([...Array<number>(full).fill(100), sessions % 100]);
  });

  it("counts every split for the run record", async () => {
    const sizes = await warehouse.query(
      "select split, count(*) as n, sum(sequence_length - 1) as examples from session_splits group by split",
    );
    for (const row of sizes) {
      const split = String(row.split) as "train" | "validation" | "test";
      const summary = summarizeSplit(await loadSplit(warehouse, vocabulary, { split }), "sequence");
      expect(summary.sessions).toBe(Number(row.n));
      expect(summary.examples).toBe(Number(row.examples));
      // Later splits face SKUs train never saw: some of their targets are unknown.
      if (split !== "train") {
        expect(summary.unknownTargetShare).toBeGreaterThan(0);
        expect(summary.unknownTargetShare).toBeLessThan(1);
      }
    }
  });
});
