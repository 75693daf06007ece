/**
 * What the card stage writes into the run store: `runs/<id>/card/card.md`, `report.html` and,
 * when Chromium is installed, `report.png` (a screenshot taken while checking that the report's
 * charts drew). The store may be S3, so the HTML and the screenshot go through a temporary
 * folder.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Reporter } from "../pipeline/reporter.ts";
import { stageKey } from "../pipeline/store/runs.ts";
import type { ArtifactStore } from "../pipeline/store/store.ts";
import type { CardData } from "./card-data.ts";
import { renderHtmlReport } from "./html.ts";
import { renderCard } from "./markdown.ts";
import { checkReportInBrowser, findChromium, type BrowserCheck } from "./screenshot.ts";

export interface WriteCardOptions {
  reporter?: Pick<Reporter, "info" | "warn">;
  /** auto: when Chromium is found; on: fail without it; off: never (default auto). */
  screenshot?: "auto" | "on" | "off";
  /** Chromium to use instead of the one on PATH. */
  chromiumPath?: string;
}

export interface CardArtifacts {
  /** Store keys. */
  card: string;
  report: string;
  screenshot?: string;
  /** The card's length in characters (GitHub's comment limit is 65,536). */
  cardChars: number;
  markdown: string;
  /** What the browser saw, when it ran. */
  browser?: BrowserCheck;
}

export async function writeCardArtifacts(
  store: ArtifactStore,
  data: CardData,
  options: WriteCardOptions = {},
): Promise<CardArtifacts> {
  const runId = data.run.runId;
  const markdown = renderCard(data, { fullReport: "report.html in the run store" });
  const html = renderHtmlReport(data);
  const card = stageKey(runId, "card", "card.md");
  const report = stageKey(runId, "card", "report.html");
  await store.put(card, markdown);
  await store.put(report, html);
  const result: CardArtifacts = { card, report, cardChars: markdown.length, markdown };

  const mode = options.screenshot ?? "auto";
  if (mode === "off") return result;
  const chromium = options.chromiumPath ?? findChromium();
  if (!chromium && mode === "auto") {
    options.reporter?.info(
      "no Chromium found: skipped the report screenshot (install it with apt-get install chromium, or set CHROMIUM_PATH)",
    );
    return result;
  }
  const dir = await mkdtemp(join(tmpdir(), "mlops-card-"));
  try {
    const htmlPath = join(dir, "report.html");
    const pngPath = join(dir, "report.png");
    await writeFile(htmlPath, html);
    const browser = await checkReportInBrowser(htmlPath, pngPath, chromium);
    const screenshot = stageKey(runId, "card", "report.png");
    await store.putFile(screenshot, pngPath);
    const empty = browser.charts.filter((c) => c.shapes === 0);
    if (browser.consoleErrors.length > 0) {
      options.reporter?.warn(
        `the HTML report logged errors in Chromium: ${browser.consoleErrors.join("; ")}`,
      );
    }
    if (empty.length > 0) {
      options.reporter?.warn(
        `charts drew nothing in Chromium: ${empty.map((c) => c.title).join(", ")}`,
      );
    }
    return { ...result, screenshot, browser };
  } catch (error) {
    // The card and the report are written; a browser that will not start only costs the picture.
    if (mode === "on") throw error;
    options.reporter?.warn(`skipped the report screenshot: Chromium failed (${String(error)})`);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
