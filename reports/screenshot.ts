/**
 * Opens the HTML report in headless Chromium (puppeteer-core driving the system's `chromium`):
 * checks that every chart drew shapes with a real size, that the page logged no errors, that
 * clicking a table header sorts the table, and saves a full-page screenshot. The card stage
 * uses it when Chromium is installed; the tests use it always (.ci/run installs Chromium).
 */
import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { pathToFileURL } from "node:url";
import puppeteer from "puppeteer-core";
import { PipelineError } from "../pipeline/errors.ts";

export interface ChartCheck {
  /** The chart's SVG title. */
  title: string;
  /** Paths, rects, circles and lines with a non-zero bounding box. */
  shapes: number;
  width: number;
  height: number;
}

export interface SortCheck {
  table: string;
  column: string;
  /** Whether the column read in order (ascending) after one click. */
  sorted: boolean;
}

export interface BrowserCheck {
  charts: ChartCheck[];
  /** Console errors and uncaught page errors, in order. */
  consoleErrors: string[];
  /** The first sortable table's first numeric column, after a click on its header. */
  sort?: SortCheck;
  screenshot: string;
}

/**
 * The Chromium to drive: $CHROMIUM_PATH, else `chromium` (Debian), `google-chrome` (GitHub's
 * Ubuntu runners) or `chromium-browser` on PATH.
 * Undefined when none is installed, so callers can skip with a notice.
 */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return isExecutable(env.CHROMIUM_PATH) ? env.CHROMIUM_PATH : undefined;
  for (const name of ["chromium", "google-chrome", "google-chrome-stable", "chromium-browser"]) {
    for (const dir of (env.PATH ?? "").split(delimiter)) {
      const candidate = join(dir, name);
      if (dir && isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

export async function checkReportInBrowser(
  htmlPath: string,
  screenshotPath: string,
  executablePath = findChromium(),
): Promise<BrowserCheck> {
  if (!executablePath) {
    throw new PipelineError(
      "no Chromium found to open the HTML report",
      1,
      "install it (Debian: apt-get install chromium; .ci/run does this) or set CHROMIUM_PATH",
    );
  }
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // Containers and CI runners often lack the user namespaces Chromium's sandbox needs.
    args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") consoleErrors.push(message.text());
    });
    page.on("pageerror", (error) => consoleErrors.push(String(error)));
    page.on("requestfailed", (request) => {
      consoleErrors.push(`request failed: ${request.url()}`);
    });
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(pathToFileURL(htmlPath).href, { waitUntil: "load" });
    // Browser-side code is plain JS text: this project compiles without the DOM types.
    const charts = (await page.evaluate(MEASURE_CHARTS)) as ChartCheck[];
    const sort = await sortFirstNumericColumn(page);
    // Chromium refuses captures taller than 16,384 px: a very long report keeps its top part.
    const height = Math.min(MAX_SCREENSHOT_HEIGHT, (await page.evaluate(PAGE_HEIGHT)) as number);
    await page.screenshot({
      path: screenshotPath as `${string}.png`,
      clip: { x: 0, y: 0, width: 1200, height },
      captureBeyondViewport: true,
    });
    return { charts, consoleErrors, ...(sort ? { sort } : {}), screenshot: screenshotPath };
  } finally {
    await browser.close();
  }
}

type Page = Awaited<ReturnType<Awaited<ReturnType<typeof puppeteer.launch>>["newPage"]>>;

const MAX_SCREENSHOT_HEIGHT = 16_000;
const PAGE_HEIGHT = "document.documentElement.scrollHeight";

const MEASURE_CHARTS = `Array.from(document.querySelectorAll("svg.chart")).map(function (svg) {
  var shapes = Array.from(svg.querySelectorAll("path, rect, circle, line")).filter(function (el) {
    var box = el.getBoundingClientRect();
    return box.width > 0 || box.height > 0;
  }).length;
  var box = svg.getBoundingClientRect();
  var title = svg.querySelector("title");
  return { title: title ? title.textContent : "", shapes: shapes, width: box.width, height: box.height };
})`;

/** [table index, column index, caption, header] of the first column whose cells all sort as numbers. */
const FIND_NUMERIC_COLUMN = `(function () {
  var tables = document.querySelectorAll("table.sortable");
  for (var t = 0; t < tables.length; t++) {
    var rows = Array.from(tables[t].tBodies[0].rows);
    if (rows.length < 2) continue;
    var headers = tables[t].tHead.rows[0].cells;
    for (var c = 0; c < headers.length; c++) {
      var numeric = rows.every(function (row) {
        var key = row.cells[c] && row.cells[c].getAttribute("data-sort");
        return key !== null && key !== "" && !isNaN(Number(key));
      });
      if (numeric) return [t, c, tables[t].caption ? tables[t].caption.textContent : "", headers[c].textContent];
    }
  }
  return null;
})()`;

const columnAscending = (table: number, column: number) => `(function () {
  var table = document.querySelectorAll("table.sortable")[${table}];
  var keys = Array.from(table.tBodies[0].rows).map(function (row) {
    return Number(row.cells[${column}].getAttribute("data-sort"));
  });
  return keys.every(function (k, i) { return i === 0 || keys[i - 1] <= k; });
})()`;

async function sortFirstNumericColumn(page: Page): Promise<SortCheck | undefined> {
  const found = (await page.evaluate(FIND_NUMERIC_COLUMN)) as
    [number, number, string, string] | null;
  if (!found) return undefined;
  const [table, column, caption, name] = found;
  const tables = await page.$$("table.sortable");
  const headers = (await tables[table]?.$$("thead th")) ?? [];
  const header = headers[column];
  if (!header) return undefined;
  await header.click();
  const sorted = (await page.evaluate(columnAscending(table, column))) as boolean;
  return { table: caption, column: name, sorted };
}
