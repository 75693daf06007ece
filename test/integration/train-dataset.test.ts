/**
 * The training dataset on real DuckDB: hand-made marts whose every id and example is checked by
 * hand, and the marts the built-in dbt runner builds from generated data, where every example
 * must come out exactly once per epoch, shuffled or not, whatever the page size.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../pipeline/data/generator/index.ts";
import {
  batches,
  buildVocabulary,
  countExamples,
  parseItems,
  readSessions,
  summarizeDataset,
  type Batch,
  type BatchOptions,
  type MartRelations,
  type PassCounts,
} from "../../pipeline/train/dataset.ts";
import { PAD_ID, UNKNOWN_ID } from "../../pipeline/train/sequences.ts";
import { Vocabulary } from "../../pipeline/train/vocabulary.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import type { SqlValue, Warehouse } from "../../pipeline/warehouse/warehouse.ts";
import { tempDir } from "../helpers/rows.ts";
import { buildWith, uploadInto } from "../helpers/transform.ts";

/** Runs one pass to the end, keeping its batches and the counts the generator returns. */
async function pass(
  warehouse: Warehouse,
  vocabulary: Vocabulary,
  options: BatchOptions,
): Promise<{ batches: Batch[]; counts: PassCounts }> {
  const out: Batch[] = [];
  const generator = batches(warehouse, vocabulary, options);
  for (;;) {
    const next = await generator.next();
    if (next.done) return { batches: out, counts: next.value };
    out.push(next.value);
  }
}

/** Every example of a pass as "input ids → target", in order. */
function examples(list: readonly Batch[]): string[] {
  const out: string[] = [];
  for (const b of list) {
    for (let i = 0; i < b.size; i++) {
      out.push(
        `${b.inputs.subarray(i * b.maxLen, (i + 1) * b.maxLen).join(" ")} → ${b.targets[i]}`,
      );
    }
  }
  return out;
}

describe("hand-made marts", () => {
  let warehouse: DuckDbWarehouse;
  const relations: MartRelations = { sequences: "hand_sequences", splits: "hand_splits" };

  beforeAll(async () => {
    warehouse = await DuckDbWarehouse.open(":memory:");
    // The same column types as the dbt marts on DuckDB: items is a list of varchar.
    await warehouse.query(`create table hand_sequences as select * from (values
      ('s1-1', ['sku-a', 'sku-b', 'sku-c', 'sku-a']),
      ('s2-1', ['sku-b', 'sku-a']),
      ('s3-1', ['sku-d', 'sku-b', 'sku-e', 'sku-c']),
      ('s4-1', ['sku-e', 'sku-d']),
      ('v1-1', ['sku-a', 'sku-x', 'sku-b']),
      ('t1-1', ['sku-e', 'sku-c', 'sku-y', 'sku-a'])
    ) as t(session_key, items)`);
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

  it("turns every prefix into an example, left-padded and front-truncated", async () => {
    const vocabulary = await buildVocabulary(warehouse, { relations });
    // a=2 b=3 c=4 d=5 e=6. Sessions in key order: s1 [a b c a], s2 [b a], s3 [d b e c], s4 [e d].
    const { batches: got, counts } = await pass(warehouse, vocabulary, {
      split: "train",
      relations,
      maxLen: 2,
      batchSize: 4,
    });
    expect(examples(got)).toEqual([
      "0 2 → 3",
      "2 3 → 4",
      "3 4 → 2",
      "0 3 → 2",
      "0 5 → 3",
      "5 3 → 6",
      "3 6 → 4",
      "0 6 → 5",
    ]);
    expect(got.map((b) => b.size)).toEqual([4, 4]);
    expect(counts).toEqual({ sessions: 4, examples: 8, unknownTargets: 0, kept: 8 });

    const wide = await pass(warehouse, vocabulary, { split: "train", relations, maxLen: 5 });
    expect(examples(wide.batches)[2]).toBe(`${PAD_ID} ${PAD_ID} 2 3 4 → 2`);
    expect(wide.batches).toHaveLength(1);
  });

  it("skips unknown targets but counts them; keeps unknown inputs", async () => {
    const vocabulary = await buildVocabulary(warehouse, { relations });
    // v1 [a x b]: a → x is skipped (x unknown), [a x] → b is kept with x as id 1.
    const validation = await pass(warehouse, vocabulary, {
      split: "validation",
      relations,
      maxLen: 3,
    });
    expect(examples(validation.batches)).toEqual(["0 2 1 → 3"]);
    expect(validation.counts).toEqual({ sessions: 1, examples: 2, unknownTargets: 1, kept: 1 });
    // The last-item mode: one example per session, the full history.
    const last = await pass(warehouse, vocabulary, {
      split: "test",
      relations,
      maxLen: 3,
      mode: "last",
    });
    expect(examples(last.batches)).toEqual(["6 4 1 → 2"]);
    // With minCount 3, c, d and e become unknown in train too: targets c (s1), e and c (s3), d (s4).
    const rare = await buildVocabulary(warehouse, { relations, minCount: 3 });
    expect(await countExamples(warehouse, rare, { split: "train", relations })).toEqual({
      sessions: 4,
      examples: 8,
      unknownTargets: 4,
      kept: 4,
    });
    const summary = await summarizeDataset(warehouse, vocabulary, { relations });
    expect(summary).toMatchObject({ vocabularySize: 7, minCount: 1, maxLen: 20 });
    expect(summary.splits.validation.unknownTargetShare).toBe(0.5);
    expect(summary.splits.test).toMatchObject({ sessions: 1, examples: 3, unknownTargets: 1 });
    expect(summary.splits.test.unknownTargetShare).toBeCloseTo(1 / 3);
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
  /** Every train example as "inputs → target", in session-key order. */
  let reference: string[];
  let referenceCounts: PassCounts;

  beforeAll(async () => {
    const data = await generate({ outDir: join(dir, "data"), sessions: 1_500, skus: 400, seed: 7 });
    warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
    await uploadInto(warehouse, data.outDir, "run-1");
    const outcome = await buildWith(warehouse);
    const failed = outcome.runs.filter((r) => r.status !== "success" && r.status !== "pass");
    expect(failed).toEqual([]);
    vocabulary = await buildVocabulary(warehouse, { minCount: 2 });
    const unshuffled = await pass(warehouse, vocabulary, { split: "train", batchSize: 64 });
    reference = examples(unshuffled.batches);
    referenceCounts = unshuffled.counts;
    // Enough for the page sizes and the shuffle buffer below to be smaller than the split.
    expect(referenceCounts.sessions).toBeGreaterThan(400);
    expect(referenceCounts.kept).toBeGreaterThan(1_000);
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

  it("yields every example once, whatever the page size", async () => {
    const [row] = await warehouse.query(
      "select count(*) as sessions, sum(q.sequence_length - 1) as examples from session_sequences q join session_splits s using (session_key) where s.split = 'train'",
    );
    expect(referenceCounts.sessions).toBe(Number(row?.sessions));
    expect(referenceCounts.examples).toBe(Number(row?.examples));
    expect(reference).toHaveLength(referenceCounts.kept);
    // Pages of 97 sessions: many queries, the same stream.
    const paged = await pass(warehouse, vocabulary, {
      split: "train",
      batchSize: 64,
      pageSize: 97,
    });
    expect(examples(paged.batches)).toEqual(reference);
    expect(paged.counts).toEqual(referenceCounts);
    expect(paged.batches.slice(0, -1).every((b) => b.size === 64)).toBe(true);
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
    const counts = await countExamples(spy, vocabulary, { split: "train", pageSize: 100 });
    expect(counts).toEqual(referenceCounts);
    // Full pages, then the remainder (or an empty page when the split divides evenly).
    const full = Math.floor(referenceCounts.sessions / 100);
    expect(pages).toEqual([...Array<number>(full).fill(100), referenceCounts.sessions % 100]);
  });

  it("shuffles every example exactly once per epoch, the same way for the same seed", async () => {
    const options: BatchOptions = {
      split: "train",
      batchSize: 50,
      pageSize: 400,
      shuffle: { seed: 3, buffer: 1_000 },
    };
    const first = examples((await pass(warehouse, vocabulary, options)).batches);
    expect(first).not.toEqual(reference);
    expect([...first].sort()).toEqual([...reference].sort());
    const again = examples((await pass(warehouse, vocabulary, options)).batches);
    expect(again).toEqual(first);
    const nextEpoch = examples(
      (
        await pass(warehouse, vocabulary, {
          ...options,
          shuffle: { seed: 3, epoch: 1, buffer: 1_000 },
        })
      ).batches,
    );
    expect(nextEpoch).not.toEqual(first);
    expect([...nextEpoch].sort()).toEqual([...reference].sort());
    // A buffer larger than the split is a full shuffle, still of every example once.
    const whole = examples(
      (await pass(warehouse, vocabulary, { ...options, shuffle: { seed: 3, buffer: 1_000_000 } }))
        .batches,
    );
    expect([...whole].sort()).toEqual([...reference].sort());
  });

  it("counts every split for the run record", async () => {
    const summary = await summarizeDataset(warehouse, vocabulary, { pageSize: 1_000 });
    expect(summary.splits.train).toMatchObject({ ...referenceCounts });
    const sizes = await warehouse.query(
      "select split, count(*) as n from session_splits group by split",
    );
    for (const row of sizes) {
      const split = String(row.split) as "train" | "validation" | "test";
      expect(summary.splits[split].sessions).toBe(Number(row.n));
    }
    // Test sessions come later and face new SKUs: some of their targets are unknown.
    expect(summary.splits.test.unknownTargetShare).toBeGreaterThan(0);
    expect(summary.splits.test.unknownTargetShare).toBeLessThan(1);
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });
});
