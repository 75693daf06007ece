import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentReporter } from "../../pipeline/reporter.ts";
import { LocalStore } from "../../pipeline/store/local-store.ts";
import { CARD_MARKER } from "../../reports/markdown.ts";
import { findChromium } from "../../reports/screenshot.ts";
import { writeCardArtifacts } from "../../reports/write.ts";
import { fixtureCard } from "../helpers/reports-fixture.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "reports-write-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("writeCardArtifacts", () => {
  it("writes card.md and report.html under the run's card folder", async () => {
    const store = new LocalStore(join(dir, "a"));
    const out = await writeCardArtifacts(store, fixtureCard(), { screenshot: "off" });
    const runId = fixtureCard().run.runId;
    expect(out.card).toBe(`runs/${runId}/card/card.md`);
    expect(out.report).toBe(`runs/${runId}/card/report.html`);
    expect(out.screenshot).toBeUndefined();
    const card = readFileSync(join(dir, "a", "runs", runId, "card", "card.md"), "utf8");
    expect(card.startsWith(CARD_MARKER)).toBe(true);
    expect(out.cardChars).toBe(card.length);
    const html = readFileSync(join(dir, "a", "runs", runId, "card", "report.html"), "utf8");
    expect(html).toMatch(/^<!doctype html>/);
  });

  it("skips the screenshot with a notice when there is no Chromium", async () => {
    const reporter = { ...silentReporter(), infos: [] as string[] };
    reporter.info = (m: string) => void reporter.infos.push(m);
    const saved = process.env.PATH;
    process.env.PATH = join(dir, "empty-path");
    const savedChromium = process.env.CHROMIUM_PATH;
    delete process.env.CHROMIUM_PATH;
    try {
      const out = await writeCardArtifacts(new LocalStore(join(dir, "b")), fixtureCard(), {
        reporter,
      });
      expect(out.screenshot).toBeUndefined();
    } finally {
      process.env.PATH = saved;
      if (savedChromium !== undefined) process.env.CHROMIUM_PATH = savedChromium;
    }
    expect(reporter.infos.join("\n")).toMatch(/no Chromium found: skipped the report screenshot/);
  });

  it.skipIf(!findChromium() && !process.env.CI)(
    "saves a screenshot into the store when Chromium is there",
    async () => {
      const reporter = silentReporter();
      const out = await writeCardArtifacts(new LocalStore(join(dir, "c")), fixtureCard(), {
        reporter,
        screenshot: "on",
      });
      expect(out.screenshot).toBe(`runs/${fixtureCard().run.runId}/card/report.png`);
      expect(out.browser?.charts).toHaveLength(4);
      expect(reporter.warnings).toEqual([]);
      const png = readFileSync(join(dir, "c", ...(out.screenshot as string).split("/")));
      expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    },
  );
});
