import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderHtmlReport } from "../../reports/html.ts";
import { checkReportInBrowser, findChromium } from "../../reports/screenshot.ts";
import { fixtureCard } from "../helpers/reports-fixture.ts";

const chromium = findChromium();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "reports-html-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("renderHtmlReport", () => {
  const html = renderHtmlReport(fixtureCard());

  it("is self-contained: no external scripts, styles, fonts or images", () => {
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link\b/i);
    // Only same-document references (the DAG arrow marker).
    expect(html).not.toMatch(/@import|url\((?!#)/i);
    expect(html).not.toMatch(/<img\b/i);
    expect(html).toContain("default-src 'none'");
  });

  it("has the card's sections in the card's order, with SVG charts", () => {
    const ids = [...html.matchAll(/<section id="(\w+)">/g)].map((m) => m[1]);
    expect(ids).toEqual([
      "verdict",
      "metrics",
      "history",
      "candidate",
      "training",
      "dag",
      "slices",
      "data",
      "run",
    ]);
    expect((html.match(/<svg /g) ?? []).length).toBe(4);
    // The history: eight production models by their run ids' tails, then the candidate.
    const history = html.slice(
      html.indexOf('<section id="history">'),
      html.indexOf('<section id="candidate">'),
    );
    expect(history).toContain("Bars: HR@20 of the last 8 production models");
    expect(history).toContain("20261101-090000-a1b2c0");
    expect(history).toContain("20261123-104500-abc123 (candidate)");
    expect(html).toContain("❌ Gates failed: 1 blocking checks failed");
    expect(html).toContain("<strong>hybrid</strong> blends a GRU(64) with tied embeddings");
    expect(html).toContain("the network adds HR@20 +0.0206");
  });

  it("escapes what the data says", () => {
    expect(html).toContain("session_items &quot;all&quot; &lt;x&gt; #1");
    expect(html).not.toContain("<x>");
  });

  it("renders a run that stopped early", () => {
    const partial = renderHtmlReport({ run: { runId: "r<1>", failedStage: "train" } });
    expect(partial).toContain("No verdict");
    expect(partial).toContain("r&lt;1&gt;");
    expect(partial).not.toContain("<svg");
  });
});

// .ci/run installs Debian's chromium; outside CI a machine without it skips these.
describe.skipIf(!chromium && !process.env.CI)("the report in headless Chromium", () => {
  it("draws every chart, logs no errors, sorts on a header click and saves a screenshot", async () => {
    const htmlPath = join(dir, "report.html");
    const screenshot = join(dir, "report.png");
    writeFileSync(htmlPath, renderHtmlReport(fixtureCard()));
    const result = await checkReportInBrowser(htmlPath, screenshot);

    expect(result.consoleErrors).toEqual([]);
    expect(result.charts.map((c) => c.title)).toEqual([
      "HR@20 and MRR@20 by recommender",
      "HR@20: production models, then this candidate",
      "Training loss and validation HR@20 per epoch",
      "dbt DAG",
    ]);
    for (const chart of result.charts) {
      expect(chart.width).toBeGreaterThan(100);
      expect(chart.height).toBeGreaterThan(100);
    }
    // 5 recommenders × 2 bars (sknn has both) plus whiskers; 2 lines + 12 points; 5 boxes + 4 edges.
    const [bars, curve, dag] = result.charts;
    expect(bars?.shapes).toBeGreaterThanOrEqual(10);
    expect(curve?.shapes).toBeGreaterThanOrEqual(14);
    expect(dag?.shapes).toBeGreaterThanOrEqual(9);
    expect(result.sort).toEqual({
      table: "Metrics with confidence intervals",
      column: "HR@20",
      sorted: true,
    });

    const png = readFileSync(screenshot);
    expect(png.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(statSync(screenshot).size).toBeGreaterThan(10_000);
  });

  it("reports page errors instead of hiding them", async () => {
    const htmlPath = join(dir, "broken.html");
    writeFileSync(
      htmlPath,
      renderHtmlReport(fixtureCard()).replace("<script>", "<script>undefinedFunction();"),
    );
    const result = await checkReportInBrowser(htmlPath, join(dir, "broken.png"));
    expect(result.consoleErrors.join("\n")).toMatch(/undefinedFunction/);
    // The sorting script died with the error, so the click sorts nothing.
    expect(result.sort?.sorted).toBe(false);
  });
});
