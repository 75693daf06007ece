/** Loads data into a real DuckDB warehouse and runs the built-in dbt runner over it. */
import { loadConfig } from "../../pipeline/config/config.ts";
import { silentReporter } from "../../pipeline/reporter.ts";
import { runBuiltin, type BuiltinOutcome } from "../../pipeline/transform/builtin/builtin.ts";
import { DEFAULT_PROJECT_DIR } from "../../pipeline/transform/transform.ts";
import { upload, type UploadResult } from "../../pipeline/upload/upload.ts";
import type { Warehouse } from "../../pipeline/warehouse/warehouse.ts";
import { tempDir } from "./rows.ts";

/** Uploads the three files of `dataDir` (csv source) into the open warehouse. */
export async function uploadInto(
  warehouse: Warehouse,
  dataDir: string,
  runId: string,
): Promise<UploadResult> {
  const { config } = loadConfig({
    env: {},
    cwd: tempDir(),
    flags: { "data.source": "csv", "data.dir": dataDir },
  });
  return upload({ config, warehouse, runId, reporter: silentReporter() });
}

export function buildWith(
  warehouse: Warehouse,
  options: { vars?: Record<string, unknown>; select?: string[]; projectDir?: string } = {},
): Promise<BuiltinOutcome> {
  return runBuiltin(warehouse, {
    projectDir: options.projectDir ?? DEFAULT_PROJECT_DIR,
    target: "duckdb",
    vars: options.vars ?? {},
    selectors: options.select ?? [],
    env: {},
  });
}

/** Every status of a build, keyed by node name. */
export function statuses(outcome: BuiltinOutcome): Record<string, string> {
  const names = new Map(
    [...outcome.graph.models, ...outcome.graph.tests].map((n) => [n.uniqueId, n.name]),
  );
  return Object.fromEntries(
    outcome.runs.map((r) => [names.get(r.uniqueId) ?? r.uniqueId, r.status]),
  );
}
