/** Small builders for data-challenge rows, for tests that need hand-made files. */
import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATA_FILES } from "../../pipeline/data/schema.ts";

export function hex(seed: string | number): string {
  return createHash("sha256").update(String(seed)).digest("hex");
}

export const BROWSING_HEADER = DATA_FILES.browsing.columns.join(",");
export const SEARCH_HEADER = DATA_FILES.search.columns.join(",");
export const CATALOG_HEADER = DATA_FILES.catalog.columns.join(",");

export function browsingRow(
  session: number,
  sku: number,
  ts: number,
  action: "detail" | "add" | "purchase" | "remove" | "click" | "" = "detail",
): string {
  const type = action === "" ? "pageview" : "event_product";
  return [
    hex(`s${session}`),
    type,
    action,
    action === "" ? "" : hex(`p${sku}`),
    ts,
    hex(`u${sku}`),
  ].join(",");
}

export function tempDir(prefix = "mlops-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
