/**
 * `pipeline convert` on hand-made files in each public dataset's published layout
 * (test/fixtures/convert/, described in its README): file → converted files → upload into a real
 * DuckDB → dbt marts, with the exact counts each fixture implies at every step; the same bytes
 * from the same input, gzipped or not; and bad input skipped into the rejects file (read =
 * written + rejected) or, for a file of the wrong layout, stopped with exit code 2.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import Papa from "papaparse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convert, type ConvertResult } from "../../pipeline/data/convert/convert.ts";
import { hashId, type ConvertFormat } from "../../pipeline/data/convert/ids.ts";
import { InputError } from "../../pipeline/errors.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import { json, runCli } from "../helpers/cli.ts";
import { tempDir } from "../helpers/rows.ts";
import { buildWith, statuses, uploadInto } from "../helpers/transform.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/convert/", import.meta.url));
const fixture = (path: string) => join(FIXTURES, path);

interface Case {
  format: ConvertFormat;
  inputs: string[];
  /** Records read over all inputs (= written: the fixtures are clean). */
  read: number;
  /** browsing_train.csv rows, by product action. */
  actions: { detail: number; add: number; purchase: number };
  /** Distinct session ids written. */
  sessions: number;
  /** Sessions in the marts (int_session_stats): dbt cuts at 30-minute gaps too. */
  martsSessions: number;
  /** session_sequences rows: sessions of 2+ items once consecutive repeats are collapsed. */
  sequences: number;
  /** sku_to_content.csv rows, and how many have a category / a price bucket. */
  items: number;
  categorized: number;
  priced: number;
}

const CASES: Case[] = [
  {
    format: "yoochoose",
    inputs: ["yoochoose/yoochoose-clicks.dat", "yoochoose/yoochoose-buys.dat"],
    read: 163,
    actions: { detail: 155, add: 0, purchase: 8 },
    sessions: 40,
    martsSessions: 42,
    sequences: 33,
    items: 24,
    categorized: 14,
    priced: 0,
  },
  {
    format: "diginetica",
    inputs: [
      "diginetica/train-item-views.csv",
      "diginetica/train-purchases.csv",
      "diginetica/products.csv",
      "diginetica/product-categories.csv",
    ],
    read: 155 + 6 + 28 + 25,
    actions: { detail: 155, add: 0, purchase: 6 },
    sessions: 40,
    martsSessions: 40,
    sequences: 32,
    items: 28,
    categorized: 25,
    priced: 28,
  },
  {
    format: "retailrocket",
    inputs: ["retailrocket/events.csv"],
    read: 139,
    actions: { detail: 105, add: 22, purchase: 12 },
    sessions: 36,
    martsSessions: 36,
    sequences: 29,
    items: 25,
    categorized: 0,
    priced: 0,
  },
  {
    format: "otto",
    inputs: ["otto/train.jsonl"],
    read: 155,
    actions: { detail: 112, add: 24, purchase: 19 },
    sessions: 40,
    martsSessions: 41,
    sequences: 33,
    items: 27,
    categorized: 0,
    priced: 0,
  },
];

const dir = tempDir("convert-test-");
const converted = new Map<ConvertFormat, ConvertResult>();

beforeAll(async () => {
  for (const c of CASES) {
    converted.set(
      c.format,
      await convert({ format: c.format, inputs: c.inputs.map(fixture), out: join(dir, c.format) }),
    );
  }
});

describe.each(CASES)("$format: file → upload → marts", (c) => {
  let warehouse: DuckDbWarehouse;
  beforeAll(async () => {
    warehouse = await DuckDbWarehouse.open(join(dir, `${c.format}.duckdb`));
  });
  afterAll(async () => {
    await warehouse.close();
  });
  const scalar = async (sql: string) =>
    Number(Object.values((await warehouse.query(sql))[0] ?? {})[0]);

  it("converts every record", () => {
    const result = converted.get(c.format) as ConvertResult;
    const events = c.actions.detail + c.actions.add + c.actions.purchase;
    expect(result).toMatchObject({
      format: c.format,
      read: c.read,
      written: c.read,
      rejected: 0,
      events,
      sessions: c.sessions,
      items: c.items,
      warnings: [],
    });
    for (const input of result.inputs) expect(input.read).toBe(input.written + input.rejected);
    expect(readFileSync(result.files.rejects, "utf8")).toBe("file,line,column,reason,raw\n");
  });

  it("loads with no rejects and builds the marts the fixture implies", async () => {
    const events = c.actions.detail + c.actions.add + c.actions.purchase;
    const load = await uploadInto(warehouse, join(dir, c.format), "convert");
    expect(load.reconciled).toBe(true);
    expect(load.totals.rejected).toBe(0);
    expect(load.tables).toEqual({
      raw_browsing_events: events,
      raw_search_events: 0,
      raw_sku_content: c.items,
      raw_served_events: 0,
    });

    const outcome = await buildWith(warehouse);
    const failed = Object.entries(statuses(outcome)).filter(
      ([, s]) => s !== "success" && s !== "pass",
    );
    expect(failed).toEqual([]);
    expect(await scalar("select count(*) from stg_browsing_events")).toBe(events);
    for (const [action, n] of Object.entries(c.actions)) {
      expect(
        await scalar(`select count(*) from stg_browsing_events where product_action = '${action}'`),
        action,
      ).toBe(n);
    }
    expect(await scalar("select count(distinct session_id) from int_session_stats")).toBe(
      c.sessions,
    );
    expect(await scalar("select count(*) from int_session_stats")).toBe(c.martsSessions);
    expect(await scalar("select count(*) from session_sequences")).toBe(c.sequences);
    expect(await scalar("select count(*) from session_splits")).toBe(c.sequences);
    expect(await scalar("select count(*) from item_catalog")).toBe(c.items);
    expect(await scalar("select count(*) from item_catalog where category_path is not null")).toBe(
      c.categorized,
    );
    expect(await scalar("select count(*) from item_catalog where price_bucket is not null")).toBe(
      c.priced,
    );
  });
});

describe("the converted files", () => {
  it("are the same bytes from the same input, gzipped or not", async () => {
    for (const c of CASES) {
      const first = converted.get(c.format) as ConvertResult;
      const again = await convert({
        format: c.format,
        inputs: c.inputs.map(fixture),
        out: join(dir, `${c.format}-again`),
      });
      const gz = c.inputs.map((input, i) => {
        const path = join(dir, `${c.format}-${i}-${input.split("/").at(-1)}.gz`);
        writeFileSync(path, gzipSync(readFileSync(fixture(input))));
        return path;
      });
      const zipped = await convert({
        format: c.format,
        inputs: gz,
        out: join(dir, `${c.format}-gz`),
      });
      expect(zipped.inputs.every((input) => input.gzip)).toBe(true);
      for (const kind of ["browsing", "catalog", "search"] as const) {
        const bytes = readFileSync(first.files[kind]);
        expect(readFileSync(again.files[kind]).equals(bytes), `${c.format} ${kind}`).toBe(true);
        expect(readFileSync(zipped.files[kind]).equals(bytes), `${c.format} ${kind} .gz`).toBe(
          true,
        );
      }
    }
  });

  it("hash ids salted per format: the same number is another id in another dataset", () => {
    const browsing = readFileSync((converted.get("otto") as ConvertResult).files.browsing, "utf8");
    expect(browsing).toContain(`${hashId("otto", "session", "12899779")},event_product,`);
    expect(hashId("otto", "item", "42")).not.toBe(hashId("yoochoose", "item", "42"));
    expect(hashId("otto", "item", "42")).not.toBe(hashId("otto", "session", "42"));
    expect(hashId("otto", "item", "42")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("cuts RetailRocket visitors into sessions at gaps of 30 minutes or more, in any line order", async () => {
    const T = 1_433_221_200_000;
    const MIN = 60_000;
    const path = join(dir, "rr-gaps.csv");
    writeFileSync(
      path,
      [
        "timestamp,visitorid,event,itemid,transactionid",
        `${T + 100 * MIN},7,view,3,`,
        `${T},7,view,1,`,
        `${T + 30 * MIN - 1},7,addtocart,2,`,
        `${T + 60 * MIN - 1},7,transaction,2,9`,
        `${T + 5 * MIN},8,view,1,`,
        "",
      ].join("\n"),
    );
    const result = await convert({ format: "retailrocket", inputs: [path], out: join(dir, "rr") });
    expect(result.sessions).toBe(4);
    const rows = readFileSync(result.files.browsing, "utf8").trimEnd().split("\n").slice(1);
    const s = (key: string) => hashId("retailrocket", "session", key);
    // Visitor, then time: 0 and 29:59.999 together; exactly 30:00 later a new session; 40 min later another.
    expect(rows.map((r) => r.split(",").slice(0, 3).join(" "))).toEqual([
      `${s("7-1")} event_product detail`,
      `${s("7-1")} event_product add`,
      `${s("7-2")} event_product purchase`,
      `${s("7-3")} event_product detail`,
      `${s("8-1")} event_product detail`,
    ]);
  });
});

/** The rejects file as records. */
function rejects(
  result: ConvertResult,
): { line: string; column: string; reason: string; raw: string }[] {
  const parsed = Papa.parse<Record<string, string>>(readFileSync(result.files.rejects, "utf8"), {
    header: true,
    skipEmptyLines: true,
  });
  return parsed.data.map((r) => ({
    line: r.line ?? "",
    column: r.column ?? "",
    reason: r.reason ?? "",
    raw: r.raw ?? "",
  }));
}

function write(name: string, lines: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

describe("bad records are skipped into convert-rejects.csv, counted", () => {
  it("YOOCHOOSE", async () => {
    const path = write("bad-clicks.dat", [
      "1,2014-04-07T10:51:09.277Z,214536502,0",
      "1,2014-04-07T10:54:09.318Z,214536500,0",
      "1,2014-02-30T10:54:09.318Z,214536500,0",
      "2,2014-04-07T10:54:09.318Z,214536500",
      "",
      "x3,2014-04-07T10:54:09.318Z,214536500,0",
      "3,1396867449318,214536500,0",
      "3,2014-04-07T10:57:00.000Z,214536506,S",
    ]);
    const result = await convert({ format: "yoochoose", inputs: [path], out: join(dir, "bad-y") });
    expect(result).toMatchObject({ read: 8, written: 3, rejected: 5, events: 3, sessions: 2 });
    expect(rejects(result)).toMatchObject([
      {
        line: "3",
        column: "timestamp",
        reason: expect.stringMatching(/^bad timestamp: .*2014-02-30/),
      },
      {
        line: "4",
        column: "",
        reason: "wrong column count: expected 4 (session,timestamp,item,category), found 3",
      },
      { line: "5", column: "", reason: "blank line" },
      { line: "6", column: "session", reason: 'bad id: expected a non-negative integer, got "x3"' },
      {
        line: "7",
        column: "timestamp",
        reason: expect.stringMatching(/^bad timestamp: /),
        raw: "3,1396867449318,214536500,0",
      },
    ]);
    const times = readFileSync(result.files.browsing, "utf8")
      .trimEnd()
      .split("\n")
      .slice(1)
      .map((row) => Number(row.split(",")[4]));
    expect(times).toEqual(
      ["2014-04-07T10:51:09.277Z", "2014-04-07T10:54:09.318Z", "2014-04-07T10:57:00.000Z"].map(
        Date.parse,
      ),
    );
    expect(result.rejectReasons).toEqual({
      "bad timestamp": 2,
      "bad id": 1,
      "blank line": 1,
      "wrong column count": 1,
    });
  });

  it("DIGINETICA", async () => {
    const path = write("bad-views.csv", [
      "sessionId;userId;itemId;timeframe;eventdate",
      "1;NA;81766;526309;2016-05-09",
      "1;NA;31331;1031018;2016-05-9",
      "1;NA;32118;-5;2016-05-09",
      "2;NA;9654;75848,2016-05-09",
      "2;NA;9654;75848;2016-05-09",
    ]);
    const result = await convert({ format: "diginetica", inputs: [path], out: join(dir, "bad-d") });
    expect(result).toMatchObject({ read: 5, written: 2, rejected: 3, events: 2, sessions: 2 });
    expect(rejects(result)).toMatchObject([
      { line: "3", column: "eventdate", reason: 'bad date: expected YYYY-MM-DD, got "2016-05-9"' },
      { line: "4", column: "timeframe", reason: expect.stringMatching(/^bad timeframe: /) },
      {
        line: "5",
        column: "",
        reason: expect.stringMatching(/^wrong column count: expected 5 /),
        raw: "2;NA;9654;75848,2016-05-09",
      },
    ]);
  });

  it("RetailRocket", async () => {
    const path = write("bad-events.csv", [
      "timestamp,visitorid,event,itemid,transactionid",
      "1433221332117,257597,view,355908,",
      "1433221332117.5,257597,view,355908,",
      "1433224214164,992329,click,248676,",
      "1433221955914,4,view,",
      "1433221999827,111016,view,318333,",
    ]);
    const result = await convert({
      format: "retailrocket",
      inputs: [path],
      out: join(dir, "bad-r"),
    });
    expect(result).toMatchObject({ read: 5, written: 2, rejected: 3, events: 2, sessions: 2 });
    expect(rejects(result)).toMatchObject([
      { line: "3", column: "timestamp", reason: expect.stringMatching(/^bad timestamp: /) },
      {
        line: "4",
        column: "event",
        reason: 'bad event: expected view, addtocart or transaction, got "click"',
      },
      { line: "5", column: "", reason: expect.stringMatching(/^wrong column count: /) },
    ]);
  });

  it("OTTO, by event, with ts in seconds read as milliseconds and said so", async () => {
    const path = write("bad.jsonl", [
      '{"session":1,"events":[{"aid":10,"ts":1661724000278,"type":"clicks"},{"aid":11,"ts":1661724000900,"type":"carts"}]}',
      '{"session":2,"events":[{"aid":10,"ts":1661724000278,"type":"clicks"}',
      '{"session":3,"events":[{"aid":12,"ts":1661724001,"type":"orders"},{"aid":-1,"ts":1661724002,"type":"clicks"},{"aid":13,"ts":"soon","type":"clicks"},{"aid":14,"ts":1661724003,"type":"views"}]}',
      '{"session":4,"events":[]}',
      '{"events":[{"aid":10,"ts":1661724000278,"type":"clicks"}]}',
    ]);
    const result = await convert({ format: "otto", inputs: [path], out: join(dir, "bad-o") });
    expect(result).toMatchObject({ read: 9, written: 3, rejected: 6, events: 3, sessions: 2 });
    expect(rejects(result)).toMatchObject([
      { line: "2", column: "", reason: expect.stringMatching(/^bad JSON: /) },
      {
        line: "3",
        column: "events[1].aid",
        reason: 'bad aid: expected a non-negative integer, got "-1"',
        raw: '{"aid":-1,"ts":1661724002,"type":"clicks"}',
      },
      { line: "3", column: "events[2].ts", reason: expect.stringMatching(/^bad timestamp: /) },
      {
        line: "3",
        column: "events[3].type",
        reason: 'bad type: expected clicks, carts or orders, got "views"',
      },
      { line: "4", column: "events", reason: "empty session: no events" },
      { line: "5", column: "session", reason: expect.stringMatching(/^bad session: /) },
    ]);
    expect(result.warnings).toEqual([
      expect.stringMatching(/^1 events had a ts below 10\^12, read as seconds/),
      expect.stringMatching(/^6 records rejected: see /),
    ]);
    expect(readFileSync(result.files.browsing, "utf8")).toContain(",1661724001000,\n");
  });

  it("a file with a header and no rows is bad input, and nothing is written", async () => {
    const path = write("empty-views.csv", ["sessionId;userId;itemId;timeframe;eventdate"]);
    const out = join(dir, "empty");
    await expect(convert({ format: "diginetica", inputs: [path], out })).rejects.toThrow(
      InputError,
    );
    await expect(convert({ format: "diginetica", inputs: [path], out })).rejects.toThrow(
      /empty-views\.csv: has no rows/,
    );
    expect(() => readFileSync(join(out, "browsing_train.csv"))).toThrow(/ENOENT/);
  });
});

describe.concurrent("the CLI", () => {
  it("converts with --json: one JSON object, gzipped input", async () => {
    const gz = join(dir, "cli-train.jsonl.gz");
    writeFileSync(gz, gzipSync(readFileSync(fixture("otto/train.jsonl"))));
    const out = join(dir, "cli-otto");
    const result = await runCli([
      "convert",
      "--format",
      "otto",
      "--input",
      gz,
      "--out",
      out,
      "--json",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({
      format: "otto",
      inputs: [{ file: gz, role: "sessions", gzip: true, read: 155, written: 155, rejected: 0 }],
      read: 155,
      rejected: 0,
      events: 155,
      sessions: 40,
      files: { browsing: join(out, "browsing_train.csv") },
    });
  });

  it.each([
    {
      format: "diginetica",
      lines: ["sessionId,userId,itemId,timeframe,eventdate", "1,NA,81766,526309,2016-05-09"],
      error:
        /line 1: not a DIGINETICA file \(a ';'-separated header\): the first line is "sessionId,userId/,
    },
    {
      format: "retailrocket",
      lines: ["timestamp,itemid,property,value", "1435460400000,460429,categoryid,1338"],
      error:
        /line 1: not RetailRocket's events\.csv: the first line is "timestamp,itemid,property,value"/,
    },
    {
      format: "otto",
      lines: ["session,aid,ts,type", "12899779,59625,1661724000278,clicks"],
      error: /line 1: not OTTO's JSON lines \(bad JSON: /,
    },
    {
      format: "yoochoose",
      lines: ["1,2014-04-07T10:51:09.277Z,214536502,0,x,y"],
      error: /line 1: not a YOOCHOOSE file: the first line has 6 columns/,
    },
  ])(
    "stops with exit code 2 on a $format file of another layout",
    async ({ format, lines, error }) => {
      const path = write(`layout-${format}.txt`, lines);
      const result = await runCli([
        "convert",
        "--format",
        format,
        "--input",
        path,
        "--out",
        join(dir, `layout-${format}`),
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(`error: ${path}, line 1: `);
      expect(result.stderr).toMatch(error);
      expect(result.stderr).toMatch(/^hint: /m);
    },
  );
});
