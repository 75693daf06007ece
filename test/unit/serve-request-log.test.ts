import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createRequestLog } from "../../pipeline/serve/request-log.ts";
import { DATA_FILES } from "../../pipeline/data/schema.ts";
import { validateRecord } from "../../pipeline/data/validate.ts";
import { hex, tempDir } from "../helpers/rows.ts";

const NOW = () => new Date("2026-01-02T03:04:05.678Z");

describe("the request log", () => {
  it("writes one valid served row per hash SKU, in session order, ending at the request time, with the model's run id", async () => {
    const log = createRequestLog({ dir: tempDir(), sampleRate: 1, now: NOW });
    const at = 1_767_000_000_000;
    log.record("req-1", [[hex(1), "not-a-hash", hex(2), hex(3)], [], [hex(4)]], at, "run-7");
    const summary = await log.close();
    expect(summary).toMatchObject({ requestsSeen: 1, requestsLogged: 1, rows: 4, skippedSkus: 1 });
    const lines = readFileSync(summary.file as string, "utf8")
      .trimEnd()
      .split("\n");
    expect(lines[0]).toBe(DATA_FILES.served.columns.join(","));
    const rows = lines.slice(1).map((line) => line.split(","));
    for (const row of rows) expect(validateRecord("served", row)).toMatchObject({ ok: true });
    expect(rows.map((r) => r[1])).toEqual([hex(1), hex(2), hex(3), hex(4)]);
    // Positions in the session: 0, 2, 3 of 4 items; the last item is at the request time.
    expect(rows.map((r) => Number(r[2]))).toEqual([at - 3, at - 1, at, at]);
    expect(new Set(rows.slice(0, 3).map((r) => r[0])).size).toBe(1);
    expect(rows[3]?.[0]).not.toBe(rows[0]?.[0]);
    expect(rows.every((r) => r[3] === "run-7")).toBe(true);
  });

  it("samples reproducibly for a seed, at about the rate asked", async () => {
    const logged = async (seed: number) => {
      const log = createRequestLog({ dir: tempDir(), sampleRate: 0.25, seed, now: NOW });
      for (let i = 0; i < 400; i++) log.record(`r${i}`, [[hex(i)]], 1_767_000_000_000 + i, "run-7");
      const summary = await log.close();
      return readFileSync(summary.file as string, "utf8");
    };
    const [a, b, c] = await Promise.all([logged(1), logged(1), logged(2)]);
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    const rows = (a as string).trimEnd().split("\n").length - 1;
    expect(rows).toBeGreaterThan(60);
    expect(rows).toBeLessThan(140);
  });

  it("leaves nothing behind when no request is sampled", async () => {
    const dir = tempDir();
    const log = createRequestLog({ dir, sampleRate: 0, now: NOW });
    log.record("r", [[hex(1)]], 1_767_000_000_000, "run-7");
    const summary = await log.close();
    expect(summary).toEqual({ requestsSeen: 1, requestsLogged: 0, rows: 0, skippedSkus: 0 });
    expect(existsSync(`${dir}/requests-2026-01-02T03-04-05-678Z-${process.pid}`)).toBe(false);
  });

  it("refuses a sample rate outside 0..1", () => {
    expect(() => createRequestLog({ dir: tempDir(), sampleRate: 1.5 })).toThrow(/0 to 1/);
  });
});
