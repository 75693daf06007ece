/**
 * The upload stage: acquire the files, load each into its append-only raw table, then the
 * production traffic (traffic.ts) into raw_served_events; reconcile read = loaded + rejected +
 * skipped.
 */
import type { Config } from "../config/config.ts";
import { DATA_KINDS, RAW_KINDS } from "../data/schema.ts";
import type { Reporter } from "../reporter.ts";
import { rawTableName } from "../warehouse/raw-tables.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { acquireData, type AcquiredData } from "./acquire.ts";
import { loadFile, type FileLoadResult } from "./load-file.ts";
import { loadTraffic } from "./traffic.ts";

export interface UploadOptions {
  config: Config;
  warehouse: Warehouse;
  runId: string;
  reporter: Reporter;
}

export interface UploadTotals {
  read: number;
  loaded: number;
  rejected: number;
  skipped: number;
}

export interface UploadResult {
  source: AcquiredData["source"];
  dataDir: string;
  warehouse: string;
  files: FileLoadResult[];
  totals: UploadTotals;
  /** read = loaded + rejected + skipped, for every file. */
  reconciled: boolean;
  /** Rows now in each raw table (all loads, not only this one). */
  tables: Record<string, number>;
  generated?: AcquiredData["generated"];
}

export async function upload(options: UploadOptions): Promise<UploadResult> {
  const { config, warehouse, reporter } = options;
  const data = await acquireData(config, reporter);
  await warehouse.ensureRawSchema();
  const files: FileLoadResult[] = [];
  for (const kind of DATA_KINDS) {
    const path = data.files[kind];
    if (!path) {
      reporter.warn(`no ${kind} file in ${data.dir}: its raw table gets no rows from this upload`);
      continue;
    }
    const result = await loadFile({
      kind,
      path,
      warehouse,
      etlId: `${options.runId}:${kind}`,
      tenant: config.tenant,
      reporter,
    });
    for (const warning of result.warnings) reporter.warn(warning);
    reporter.info(describe(result));
    files.push(result);
  }
  for (const result of await loadTraffic({ config, warehouse, runId: options.runId, reporter })) {
    for (const warning of result.warnings) reporter.warn(warning);
    reporter.info(describe(result));
    files.push(result);
  }
  const totals = files.reduce<UploadTotals>(
    (sum, f) => ({
      read: sum.read + f.read,
      loaded: sum.loaded + f.loaded,
      rejected: sum.rejected + f.rejected,
      skipped: sum.skipped + f.skipped,
    }),
    { read: 0, loaded: 0, rejected: 0, skipped: 0 },
  );
  const tables: Record<string, number> = {};
  for (const kind of RAW_KINDS)
    tables[rawTableName(kind)] = await warehouse.count(rawTableName(kind));
  return {
    source: data.source,
    dataDir: data.dir,
    warehouse: warehouse.description,
    files,
    totals,
    reconciled: files.every((f) => f.read === f.loaded + f.rejected + f.skipped),
    tables,
    ...(data.generated ? { generated: data.generated } : {}),
  };
}

function describe(r: FileLoadResult): string {
  const name = r.file.split("/").at(-1);
  if (r.status === "skipped") {
    return `  ${name}: already loaded by ${r.etlId} (sha256 ${r.sha256.slice(0, 12)}…): ${r.skipped} rows skipped`;
  }
  const reasons = Object.entries(r.rejectReasons)
    .slice(0, 3)
    .map(([reason, n]) => `${n} ${reason}`)
    .join("; ");
  return `  ${name}: read ${r.read} = loaded ${r.loaded} + rejected ${r.rejected}${reasons ? ` (${reasons})` : ""} in ${r.seconds.toFixed(1)} s`;
}
