import { describe, expect, it } from "vitest";
import Papa from "papaparse";
import { seededFloats } from "../../pipeline/prng.ts";
import { isValidBrowsingLine, validateRecord, checkHeader } from "../../pipeline/data/validate.ts";
import { BROWSING_HEADER, browsingRow, hex } from "../helpers/rows.ts";

const fields = (line: string) => Papa.parse<string[]>(line, { delimiter: "," }).data[0] ?? [""];
const slow = (line: string) => validateRecord("browsing", fields(line)).ok;

const VALID = [
  browsingRow(1, 1, 1_550_000_000_000, "detail"),
  browsingRow(2, 2, 1_550_000_000_001, "add"),
  browsingRow(3, 3, 1_550_000_000_002, "purchase"),
  browsingRow(4, 4, 1_550_000_000_003, "remove"),
  browsingRow(5, 5, 1_550_000_000_004, "click"),
  browsingRow(6, 6, 1_550_000_000_005, ""),
  [hex("s"), "pageview", "", hex("p"), "1550000000000", hex("u")].join(","),
  [hex("s"), "event", "detail", hex("p"), "1550000000000", ""].join(","),
  [hex("s").toUpperCase(), "pageview", "", "", "1550000000000", ""].join(","),
];

describe("the browsing fast path", () => {
  it("accepts the valid shapes of a browsing row", () => {
    for (const line of VALID) {
      expect(slow(line), line).toBe(true);
      expect(isValidBrowsingLine(line), line).toBe(true);
    }
  });

  it("never accepts a line that validateRecord rejects (20,000 random mutations)", () => {
    const random = seededFloats(7);
    const alphabet = '0123456789abcdefAZ,"; \t.-_xé\uFFFD';
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let line = VALID[Math.floor(random() * VALID.length)] as string;
      for (let m = 1 + Math.floor(random() * 2); m > 0; m--) {
        const at = Math.floor(random() * (line.length + 1));
        const char = alphabet[Math.floor(random() * alphabet.length)] as string;
        const kind = random();
        if (kind < 0.4) line = line.slice(0, at) + char + line.slice(at + 1);
        else if (kind < 0.7) line = line.slice(0, at) + line.slice(at + 1);
        else line = line.slice(0, at) + char + line.slice(at);
      }
      if (isValidBrowsingLine(line)) {
        accepted++;
        expect(slow(line), line).toBe(true);
      }
    }
    // Mutations inside a hash keep a line valid often enough that both paths were exercised.
    expect(accepted).toBeGreaterThan(1000);
  });

  it("leaves the reasons to validateRecord", () => {
    expect(isValidBrowsingLine(`${VALID[0]},extra`)).toBe(false);
    expect(isValidBrowsingLine(VALID[0]?.replace("1550000000000", "155000000") ?? "")).toBe(false);
    expect(isValidBrowsingLine(`"${VALID[0]}"`)).toBe(false);
  });
});

describe("checkHeader", () => {
  it("tells a header, a missing header and a wrong header apart", () => {
    const standard = {
      header: true,
      positions: [0, 1, 2, 3, 4, 5],
      width: 6,
      extra: [],
      standard: true,
    };
    expect(checkHeader("browsing", BROWSING_HEADER.split(","))).toEqual({
      kind: "layout",
      layout: standard,
    });
    expect(checkHeader("browsing", BROWSING_HEADER.toUpperCase().split(","))).toEqual({
      kind: "layout",
      layout: standard,
    });
    expect(checkHeader("browsing", (VALID[0] as string).split(","))).toEqual({
      kind: "layout",
      layout: { ...standard, header: false },
    });
    expect(checkHeader("browsing", ["query_vector", "clicked_skus_hash"])).toEqual({
      kind: "wrong-header",
    });
    expect(checkHeader("browsing", ["session_id_hash", "query_vector"])).toMatchObject({
      kind: "missing-columns",
      missing: [
        "event_type",
        "product_action",
        "product_sku_hash",
        "server_timestamp_epoch_ms",
        "hashed_url",
      ],
    });
  });

  it("matches the columns by name, in any order, and names the extra ones", () => {
    // The challenge's real search_train.csv: the documented columns in another order.
    const real =
      "session_id_hash,query_vector,clicked_skus_hash,product_skus_hash,server_timestamp_epoch_ms";
    expect(checkHeader("search", real.split(","))).toEqual({
      kind: "layout",
      layout: { header: true, positions: [0, 4, 1, 3, 2], width: 5, extra: [], standard: false },
    });
    const extra = checkHeader("browsing", ["note", ...BROWSING_HEADER.split(",").reverse()]);
    expect(extra).toEqual({
      kind: "layout",
      layout: {
        header: true,
        positions: [6, 5, 4, 3, 2, 1],
        width: 7,
        extra: ["note"],
        standard: false,
      },
    });
    expect(checkHeader("browsing", [...BROWSING_HEADER.split(","), "event_type"])).toEqual({
      kind: "duplicate-columns",
      duplicates: ["event_type"],
    });
  });
});
