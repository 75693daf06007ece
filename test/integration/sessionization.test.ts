/**
 * Staging and sessionization on hand-made events with exact expected sessions: the 30-minute
 * rule at its boundary, ties at one millisecond, repeats collapsed, `event` read as
 * `event_product`, upper-case SKU hashes, duplicates, and the vars that change all this.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { BROWSING_HEADER, CATALOG_HEADER, SEARCH_HEADER, hex, tempDir } from "../helpers/rows.ts";
import { buildWith, statuses, uploadInto } from "../helpers/transform.ts";

const T = 1_550_000_000_000;
const MIN = 60_000;
const sid = (n: number) => hex(`session-${n}`);
const sku = (n: number) => hex(`sku-${n}`);

function event(
  session: number,
  ms: number,
  action: "" | "detail" | "add" | "purchase" | "remove",
  item?: number,
  options: { type?: string; upper?: boolean } = {},
): string {
  const hash = item === undefined ? "" : sku(item);
  return [
    sid(session),
    options.type ?? (action === "" ? "pageview" : "event_product"),
    action,
    options.upper ? hash.toUpperCase() : hash,
    T + ms,
    hex(`url-${item ?? ms}`),
  ].join(",");
}

const EVENTS = [
  event(1, 0, ""),
  event(1, 0, "detail", 1),
  event(1, 1 * MIN, "detail", 1),
  event(1, 2 * MIN, "add", 1),
  event(1, 10 * MIN, "detail", 2),
  event(1, 11 * MIN, "remove", 2),
  // 29 minutes after the remove: the same session.
  event(1, 40 * MIN, "detail", 3),
  // Exactly 30 minutes after the last event: a new session.
  event(1, 70 * MIN, ""),
  event(1, 71 * MIN, "detail", 4, { type: "event", upper: true }),
  event(1, 72 * MIN, "detail", 5),
  // Same millisecond as the one before, later in the file: after it.
  event(1, 72 * MIN, "detail", 4),
  // A session of one item: not a sequence.
  event(1, 200 * MIN, "purchase", 6),
  event(2, 5 * MIN, "detail", 1),
  event(2, 5 * MIN + 30 * MIN - 1, "detail", 2),
  // The same event twice in one file: one event.
  event(2, 5 * MIN + 30 * MIN - 1, "detail", 2),
];

const dir = tempDir("sessionization-test-");
let warehouse: DuckDbWarehouse;

beforeAll(async () => {
  const data = join(dir, "data");
  mkdirSync(data);
  writeFileSync(join(data, "browsing_train.csv"), `${[BROWSING_HEADER, ...EVENTS].join("\n")}\n`);
  writeFileSync(join(data, "search_train.csv"), `${SEARCH_HEADER}\n`);
  const catalog = [1, 2, 3, 4, 5, 6].map(
    (i) => `${sku(i).toUpperCase()},,${hex("root")}/${hex(`leaf-${i % 2}`)},,${i}.0`,
  );
  writeFileSync(join(data, "sku_to_content.csv"), `${[CATALOG_HEADER, ...catalog].join("\n")}\n`);
  warehouse = await DuckDbWarehouse.open(join(dir, "warehouse.duckdb"));
  const load = await uploadInto(warehouse, data, "fixture");
  expect(load.totals.rejected).toBe(0);
});

afterAll(async () => {
  await warehouse.close();
});

async function sequences(): Promise<
  { key: string; items: string[]; start: number; end: number }[]
> {
  const rows = await warehouse.query(
    "select session_key, items, session_start_ms, session_end_ms from session_sequences order by session_id, session_number",
  );
  return rows.map((r) => ({
    key: String(r.session_key),
    items: JSON.parse(String(r.items)) as string[],
    start: Number(r.session_start_ms) - T,
    end: Number(r.session_end_ms) - T,
  }));
}

describe("sessionization on hand-made events", () => {
  it("cuts at gaps of 30 minutes or more and collapses repeats", async () => {
    const outcome = await buildWith(warehouse);
    expect(Object.values(statuses(outcome)).every((s) => s === "success" || s === "pass")).toBe(
      true,
    );
    const expected = [
      { key: `${sid(1)}-1`, items: [sku(1), sku(2), sku(3)], start: 0, end: 40 * MIN },
      { key: `${sid(1)}-2`, items: [sku(4), sku(5), sku(4)], start: 70 * MIN, end: 72 * MIN },
      { key: `${sid(2)}-1`, items: [sku(1), sku(2)], start: 5 * MIN, end: 35 * MIN - 1 },
    ].sort((a, b) => a.key.localeCompare(b.key));
    expect((await sequences()).sort((a, b) => a.key.localeCompare(b.key))).toEqual(expected);
  });

  it("normalizes, deduplicates and counts per action", async () => {
    const [staged] = await warehouse.query(`
      select count(*) as n,
             count(*) filter (where event_type = 'event') as old_type,
             count(*) filter (where sku <> lower(sku)) as upper
      from stg_browsing_events`);
    expect(staged).toEqual({ n: EVENTS.length - 1, old_type: 0, upper: 0 });
    const stats = await warehouse.query(
      `select session_key, n_events, n_pageviews, n_detail, n_add, n_purchase, n_remove, duration_seconds
       from int_session_stats where session_id = '${sid(1)}' order by session_number`,
    );
    expect(stats).toEqual([
      {
        session_key: `${sid(1)}-1`,
        n_events: 7,
        n_pageviews: 1,
        n_detail: 4,
        n_add: 1,
        n_purchase: 0,
        n_remove: 1,
        duration_seconds: 2400,
      },
      {
        session_key: `${sid(1)}-2`,
        n_events: 4,
        n_pageviews: 1,
        n_detail: 3,
        n_add: 0,
        n_purchase: 0,
        n_remove: 0,
        duration_seconds: 120,
      },
      {
        session_key: `${sid(1)}-3`,
        n_events: 1,
        n_pageviews: 0,
        n_detail: 0,
        n_add: 0,
        n_purchase: 1,
        n_remove: 0,
        duration_seconds: 0,
      },
    ]);
    const [catalog] = await warehouse.query(
      `select sku, category_depth, category_leaf, price_bucket from stg_sku_content where sku = '${sku(3)}'`,
    );
    expect(catalog).toEqual({
      sku: sku(3),
      category_depth: 2,
      category_leaf: hex("leaf-1"),
      price_bucket: 3,
    });
  });

  it("follows the vars: a longer gap joins sessions, no collapsing keeps repeats", async () => {
    await buildWith(warehouse, {
      vars: { session_gap_minutes: 60, collapse_repeats: false },
    });
    const got = await sequences();
    expect(got.find((s) => s.key === `${sid(1)}-1`)?.items).toEqual([
      sku(1),
      sku(1),
      sku(1),
      sku(2),
      sku(3),
      sku(4),
      sku(5),
      sku(4),
    ]);
    await buildWith(warehouse, {
      vars: { sequence_actions: ["purchase"], min_sequence_length: 1 },
    });
    expect((await sequences()).map((s) => s.items)).toEqual([[sku(6)]]);
  });
});
