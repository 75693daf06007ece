/**
 * The card's Mermaid blocks as GitHub draws them: every block of a generated card is parsed and
 * rendered by the mermaid library (11, what GitHub runs) in headless Chromium, offline. The
 * charts must draw with the card's own palette (readable on GitHub's light and dark themes, not
 * mermaid's default pale lavender), and no two x-axis labels may overlap.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import puppeteer, { type Browser } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderCard } from "../../reports/markdown.ts";
import { CHART_PALETTE } from "../../reports/mermaid.ts";
import { findChromium } from "../../reports/screenshot.ts";
import { fixtureCard } from "../helpers/reports-fixture.ts";

const chromium = findChromium();
const require = createRequire(import.meta.url);
const MERMAID = readFileSync(require.resolve("mermaid/dist/mermaid.min.js"), "utf8");

/** The sources of a card's ```mermaid blocks. */
function mermaidBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string);
}

interface Rendered {
  error?: string;
  /** Fill and stroke colours used by the chart's bars and lines. */
  colors: string[];
  /** Bounding boxes of the x-axis labels. */
  labels: { text: string; x: number; width: number }[];
}

// Browser-side code as text: this project compiles without the DOM types.
const RENDER = `async (source, id) => {
  try {
    const { svg } = await window.mermaid.render(id, source);
    const host = document.createElement("div");
    host.innerHTML = svg;
    document.body.appendChild(host);
    const colors = [...host.querySelectorAll(".plot rect, .plot path")]
      .flatMap((el) => [el.getAttribute("fill"), el.getAttribute("stroke")])
      .filter((c) => c && c !== "none");
    const labels = [...host.querySelectorAll(".bottom-axis .label text, .bottom-axis text")]
      .map((el) => { const box = el.getBoundingClientRect(); return { text: el.textContent, x: box.x, width: box.width }; });
    return { colors, labels };
  } catch (error) {
    return { error: String(error && error.message || error), colors: [], labels: [] };
  }
}`;

describe.skipIf(!chromium)("the card's Mermaid blocks, drawn by mermaid 11", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await puppeteer.launch({
      executablePath: chromium as string,
      headless: true,
      args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  });
  afterAll(() => browser?.close());

  it("parse and render, charts in the card's palette with labels that do not overlap", async () => {
    const blocks = mermaidBlocks(renderCard(fixtureCard()));
    expect(blocks.length).toBe(6);
    const page = await browser.newPage();
    await page.setContent("<!doctype html><html><body></body></html>");
    await page.addScriptTag({ content: MERMAID });
    await page.evaluate(`window.mermaid.initialize({ startOnLoad: false })`);
    for (const [i, source] of blocks.entries()) {
      const rendered = (await page.evaluate(
        `(${RENDER})(${JSON.stringify(source)}, "block${i}")`,
      )) as Rendered;
      expect(rendered.error, source).toBeUndefined();
      if (!source.includes("xychart-beta")) continue;
      const used = new Set(rendered.colors.map((c) => c.toLowerCase()));
      expect(
        [...used].filter((c) => CHART_PALETTE.includes(c)),
        source,
      ).not.toEqual([]);
      const labels = [...rendered.labels].sort((a, b) => a.x - b.x);
      for (let j = 1; j < labels.length; j++) {
        const [left, right] = [labels[j - 1], labels[j]] as [
          Rendered["labels"][0],
          Rendered["labels"][0],
        ];
        expect(left.x + left.width, `"${left.text}" runs into "${right.text}"`).toBeLessThanOrEqual(
          right.x + 0.5,
        );
      }
    }
    await page.close();
  });
});
