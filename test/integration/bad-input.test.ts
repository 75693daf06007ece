/**
 * The bad-input corpus: every kind of malformed file or row the upload stage must survive, each
 * with its exact outcome (counts, and the line, column and reason of every reject), loaded into a
 * real DuckDB warehouse.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import { DATA_FILES, type DataKind } from "../../pipeline/data/schema.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { loadFile } from "../../pipeline/upload/load-file.ts";
import { DuckDbWarehouse } from "../../pipeline/warehouse/duckdb.ts";
import {
  BROWSING_HEADER,
  CATALOG_HEADER,
  SEARCH_HEADER,
  browsingRow,
  hex,
  tempDir,
} from "../helpers/rows.ts";

interface ExpectedReject {
  line: number;
  column: string;
  reason: RegExp;
}

interface Case {
  name: string;
  kind?: DataKind;
  content: string | Buffer;
  read: number;
  loaded: number;
  rejects?: ExpectedReject[];
  warning?: RegExp;
}

const ok = (n: number) => browsingRow(n, n, 1_550_000_000_000 + n);
const lines = (...rows: string[]) => `${rows.join("\n")}\n`;
const withHeader = (...rows: string[]) => lines(BROWSING_HEADER, ...rows);
const field = (row: string, index: number, value: string) =>
  row
    .split(",")
    .map((f, i) => (i === index ? value : f))
    .join(",");
const sku = hex("p1");
const vector = '"[0.25, -1.5, 3e-2]"';

const CASES: Case[] = [
  { name: "a clean file", content: withHeader(ok(1), ok(2), ok(3)), read: 3, loaded: 3 },
  {
    name: "too few columns",
    content: withHeader(ok(1), ok(2).split(",").slice(0, 5).join(","), ok(3)),
    read: 3,
    loaded: 2,
    rejects: [{ line: 3, column: "", reason: /^expected 6 columns, found 5$/ }],
  },
  {
    name: "too many columns",
    content: withHeader(ok(1), `${ok(2)},extra`),
    read: 2,
    loaded: 1,
    rejects: [{ line: 3, column: "", reason: /^expected 6 columns, found 7$/ }],
  },
  {
    name: "a timestamp that is not a number",
    content: withHeader(field(ok(1), 4, "yesterday"), ok(2)),
    read: 2,
    loaded: 1,
    rejects: [
      {
        line: 2,
        column: "server_timestamp_epoch_ms",
        reason: /expected epoch milliseconds.*"yesterday"/,
      },
    ],
  },
  {
    name: "a timestamp in seconds",
    content: withHeader(field(ok(1), 4, "1550000000")),
    read: 1,
    loaded: 0,
    rejects: [
      { line: 2, column: "server_timestamp_epoch_ms", reason: /expected epoch milliseconds/ },
    ],
  },
  {
    name: "an unknown event_type",
    content: withHeader(ok(1), field(ok(2), 1, "event_click")),
    read: 2,
    loaded: 1,
    rejects: [
      {
        line: 3,
        column: "event_type",
        reason: /expected one of pageview, event_product, event, got "event_click"/,
      },
    ],
  },
  {
    name: "the older event type `event` is accepted",
    content: withHeader(field(ok(1), 1, "event"), ok(2)),
    read: 2,
    loaded: 2,
  },
  {
    name: "an unknown product_action",
    content: withHeader(field(ok(1), 2, "buy")),
    read: 1,
    loaded: 0,
    rejects: [
      {
        line: 2,
        column: "product_action",
        reason: /expected one of detail, add, purchase, remove, click or empty, got "buy"/,
      },
    ],
  },
  {
    name: "a pageview with a product action",
    content: withHeader(field(browsingRow(1, 1, 1_550_000_000_000, ""), 2, "detail")),
    read: 1,
    loaded: 0,
    rejects: [{ line: 2, column: "product_action", reason: /a pageview has no product_action/ }],
  },
  {
    name: "a product event without a SKU",
    content: withHeader(field(ok(1), 3, ""), ok(2)),
    read: 2,
    loaded: 1,
    rejects: [
      {
        line: 2,
        column: "product_sku_hash",
        reason: /a event_product event needs a product_sku_hash/,
      },
    ],
  },
  {
    name: "a session hash one character short",
    content: withHeader(field(ok(1), 0, hex("s").slice(1))),
    read: 1,
    loaded: 0,
    rejects: [{ line: 2, column: "session_id_hash", reason: /expected a 64-character hex hash/ }],
  },
  {
    name: "a SKU hash that is not hex",
    content: withHeader(ok(1), field(ok(2), 3, "z".repeat(64))),
    read: 2,
    loaded: 1,
    rejects: [
      {
        line: 3,
        column: "product_sku_hash",
        reason: /expected a 64-character hex hash, got "z{40}…" \(64 chars\)/,
      },
    ],
  },
  {
    name: "upper-case hashes are accepted (staging lower-cases them)",
    content: withHeader(field(ok(1), 3, sku.toUpperCase())),
    read: 1,
    loaded: 1,
  },
  {
    name: "an unterminated quote spoils its own line only",
    content: withHeader(ok(1), `"${ok(2)}`, ok(3), ok(4)),
    read: 4,
    loaded: 3,
    rejects: [{ line: 3, column: "", reason: /^broken quoting: quoted field unterminated$/ }],
  },
  {
    name: "a malformed quote inside a field",
    content: withHeader(field(ok(1), 5, '"abc"def'), ok(2)),
    read: 2,
    loaded: 1,
    rejects: [
      {
        line: 2,
        column: "",
        reason: /^broken quoting: trailing quote on quoted field is malformed$/,
      },
    ],
  },
  {
    name: "a blank line in the middle",
    content: withHeader(ok(1), "", ok(2)),
    read: 3,
    loaded: 2,
    rejects: [{ line: 3, column: "", reason: /^blank line$/ }],
  },
  {
    name: "bytes that are not UTF-8",
    content: Buffer.concat([
      Buffer.from(withHeader(ok(1))),
      Buffer.from(`${field(ok(2), 5, "")}`),
      Buffer.from([0xc3, 0x28, 0xff]),
      Buffer.from(`\n${ok(3)}\n`),
    ]),
    read: 3,
    loaded: 2,
    rejects: [{ line: 3, column: "hashed_url", reason: /not valid UTF-8/ }],
  },
  {
    name: "an absurdly long field",
    content: withHeader(ok(1), field(ok(2), 5, "a".repeat(100_000))),
    read: 2,
    loaded: 1,
    rejects: [
      {
        line: 3,
        column: "hashed_url",
        reason: /field is 100000 characters, over the limit of 65536/,
      },
    ],
  },
  {
    name: "a line longer than the reader's limit (2 MiB, no line break)",
    content: withHeader(ok(1), "x".repeat(2 * 1024 * 1024), ok(2)),
    read: 3,
    loaded: 2,
    rejects: [{ line: 3, column: "", reason: /^line is longer than 1048576 characters/ }],
  },
  {
    name: "an empty file",
    content: "",
    read: 0,
    loaded: 0,
    warning: /the file is empty/,
  },
  {
    name: "a header and no rows",
    content: lines(BROWSING_HEADER),
    read: 0,
    loaded: 0,
    warning: /has a header but no rows/,
  },
  {
    name: "a missing header: rows load in the standard column order",
    content: lines(ok(1), ok(2)),
    read: 2,
    loaded: 2,
    warning: /no header line \(line 1 is data\)/,
  },
  {
    name: "CRLF line endings and a byte-order mark",
    content: `\uFEFF${[BROWSING_HEADER, ok(1), ok(2)].join("\r\n")}\r\n`,
    read: 2,
    loaded: 2,
  },
  {
    name: "no line break after the last row",
    content: `${BROWSING_HEADER}\n${ok(1)}\n${ok(2)}`,
    read: 2,
    loaded: 2,
  },
  {
    name: "a search file with a broken list and a non-hash click",
    kind: "search",
    content: lines(
      SEARCH_HEADER,
      `${hex("s1")},1550000000000,${vector},"['${sku}']","['${sku}']"`,
      `${hex("s2")},1550000000001,${vector},"['${sku}'",`,
      `${hex("s3")},1550000000002,${vector},"['${sku}']","['not-a-hash']"`,
      `${hex("s4")},1550000000003,,,`,
    ),
    read: 4,
    loaded: 2,
    rejects: [
      { line: 3, column: "product_skus_hash", reason: /expected a bracketed list/ },
      {
        line: 4,
        column: "clicked_skus_hash",
        reason: /list item "'not-a-hash'" is not a 64-character hex hash/,
      },
    ],
  },
  {
    name: "a catalog with a price bucket out of range and a bad category path",
    kind: "catalog",
    content: lines(
      CATALOG_HEADER,
      `${hex("p1")},${vector},${hex("c1")}/${hex("c2")},${vector},7.0`,
      `${hex("p2")},,,,`,
      `${hex("p3")},${vector},${hex("c1")},${vector},11.0`,
      `${hex("p4")},${vector},${hex("c1")}//x,${vector},3.0`,
    ),
    read: 4,
    loaded: 2,
    rejects: [
      {
        line: 4,
        column: "price_bucket",
        reason: /expected a price bucket from 1 to 10 \(like "7.0"\), got "11.0"/,
      },
      { line: 5, column: "category_hash", reason: /'\/'-separated path/ },
    ],
  },
];

let dir: string;
let warehouse: DuckDbWarehouse;

beforeAll(async () => {
  dir = tempDir();
  warehouse = await DuckDbWarehouse.open(join(dir, "wh.duckdb"));
  await warehouse.ensureRawSchema();
});

afterAll(async () => {
  await warehouse.close();
});

describe("the bad-input corpus", () => {
  it("has at least 20 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(20);
  });

  CASES.forEach((c, index) => {
    it(c.name, async () => {
      const kind = c.kind ?? "browsing";
      const path = join(dir, `case-${index}.csv`);
      writeFileSync(path, c.content);
      const reporter = silentReporter();
      const result = await loadFile({
        kind,
        path,
        warehouse,
        etlId: `case-${index}`,
        tenant: "t",
        reporter,
      });
      expect(result.status).toBe("loaded");
      expect({ read: result.read, loaded: result.loaded }).toEqual({
        read: c.read,
        loaded: c.loaded,
      });
      expect(result.read).toBe(result.loaded + result.rejected);

      const rows = await warehouse.query(
        "SELECT line, column_name, reason, source_file FROM raw_rejects WHERE etl_id = $1 ORDER BY line",
        [`case-${index}`],
      );
      const expected = c.rejects ?? [];
      expect(rows).toHaveLength(expected.length);
      expected.forEach((e, i) => {
        const row = rows[i];
        expect(row?.line).toBe(e.line);
        expect(row?.column_name ?? "").toBe(e.column);
        expect(String(row?.reason)).toMatch(e.reason);
        expect(row?.source_file).toBe(`case-${index}.csv`);
      });
      if (c.warning) expect(result.warnings.join("\n")).toMatch(c.warning);
      else expect(result.warnings).toEqual([]);
      const table = DATA_FILES[kind].table;
      const loaded = await warehouse.query(`SELECT count(*) AS n FROM ${table} WHERE etl_id = $1`, [
        `case-${index}`,
      ]);
      expect(loaded[0]?.n).toBe(c.loaded);
    });
  });

  it("a file of another kind fails with exit code 2, naming the file and the expected columns", async () => {
    const path = join(dir, "browsing_train.csv");
    writeFileSync(path, lines(SEARCH_HEADER, `${hex("s1")},1550000000000,,,`));
    const error = await loadFile({
      kind: "browsing",
      path,
      warehouse,
      etlId: "wrong-kind",
      tenant: "t",
      reporter: silentReporter(),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).exitCode).toBe(2);
    // The search file's header shares two names with the browsing file's: the rest are named.
    expect((error as InputError).message).toContain(
      `${path}, line 1: the header has no column "event_type", "product_action", "product_sku_hash", "hashed_url"`,
    );
    expect((error as InputError).hint).toContain(BROWSING_HEADER.split(",").join(", "));
    expect(await warehouse.count("raw_loads")).toBe(CASES.length);
  });

  it("keeps the raw text of a rejected line", async () => {
    const rows = await warehouse.query(
      "SELECT raw_text FROM raw_rejects WHERE etl_id = 'case-1' AND line = 3",
    );
    expect(rows[0]?.raw_text).toBe(ok(2).split(",").slice(0, 5).join(","));
  });
});
