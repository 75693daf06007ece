import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readCsvLines, type CsvRecord } from "../../pipeline/data/reader.ts";
import { tempDir } from "../helpers/rows.ts";

const dir = tempDir();

async function readAll(
  content: string | Buffer,
  chunkSize?: number,
  maxLineLength = 1000,
): Promise<CsvRecord[]> {
  const path = join(dir, `f-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(path, content);
  const records: CsvRecord[] = [];
  for await (const batch of readCsvLines(path, {
    maxLineLength,
    ...(chunkSize ? { chunkSize } : {}),
  })) {
    records.push(...batch);
  }
  return records;
}

describe("readCsvLines", () => {
  const content = 'a,b,c\n"x,1",é€😀,z\r\n"say ""hi""",,\n\nlast,line,"[1, 2]"';
  const expected = [
    { line: 1, fields: ["a", "b", "c"] },
    { line: 2, fields: ["x,1", "é€😀", "z"] },
    { line: 3, fields: ['say "hi"', "", ""] },
    { line: 4, fields: [""] },
    { line: 5, fields: ["last", "line", "[1, 2]"] },
  ];

  it("splits lines, unquotes fields, keeps line numbers exact", async () => {
    const records = await readAll(content);
    expect(records.map(({ line, fields }) => ({ line, fields }))).toEqual(expected);
    expect(records[1]?.raw).toBe('"x,1",é€😀,z');
  });

  it("gives the same records whatever the chunk boundaries (multi-byte characters, CRLF)", async () => {
    for (const chunkSize of [1, 2, 3, 5, 7, 11, 64]) {
      const records = await readAll(content, chunkSize);
      expect(
        records.map(({ line, fields }) => ({ line, fields })),
        `chunk ${chunkSize}`,
      ).toEqual(expected);
    }
  });

  it("drops a byte-order mark", async () => {
    const records = await readAll("\uFEFFa,b\n1,2\n");
    expect(records[0]?.fields).toEqual(["a", "b"]);
  });

  it("turns invalid UTF-8 into U+FFFD, which the validator reports", async () => {
    const records = await readAll(Buffer.from([0x61, 0x2c, 0xff, 0x0a]));
    expect(records[0]?.fields).toEqual(["a", "\uFFFD"]);
  });

  it("reports a line over the limit once, keeps its head and reads on", async () => {
    const long = "y".repeat(5000);
    for (const chunkSize of [16, 1000, 1 << 16]) {
      const records = await readAll(`a,b\n${long}\nc,d\n`, chunkSize, 100);
      expect(records.map((r) => r.line)).toEqual([1, 2, 3]);
      expect(records[1]?.problem).toMatch(/^line is longer than 100 characters/);
      expect(records[1]?.raw).toBe("y".repeat(200).slice(0, records[1]?.raw.length));
      expect(records[2]?.fields).toEqual(["c", "d"]);
    }
  });

  it("reports broken quoting on its own line", async () => {
    const records = await readAll('a,"b\nc,d\n');
    expect(records[0]?.problem).toBe("broken quoting: quoted field unterminated");
    expect(records[1]?.fields).toEqual(["c", "d"]);
  });
});
