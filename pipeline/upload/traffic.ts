/**
 * Production traffic into the warehouse: the upload stage's second source. The server's request
 * logs (`served_events.csv`, one folder per server start) and SageMaker Data Capture files
 * (`*.jsonl`, converted to the same rows) are found anywhere under the traffic location (a folder
 * or an s3:// prefix) and each is loaded into `raw_served_events` like any data file: validated,
 * rejects quarantined, and skipped when its content was loaded before, so the same logs can be
 * offered to every run.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { existsSync } from "node:fs";
import type { Config } from "../config/config.ts";
import { parseDataCapture } from "../monitor/data-capture.ts";
import { SERVED_HEADER, servedEventLine } from "../monitor/served-events.ts";
import type { Reporter } from "../reporter.ts";
import { LocalStore } from "../store/local-store.ts";
import { S3Store, parseS3Url } from "../store/s3-store.ts";
import type { ArtifactStore } from "../store/store.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";
import { loadFile, type FileLoadResult } from "./load-file.ts";

/**
 * Where the traffic is: the setting, else the endpoint's Data Capture destination, else the
 * folder the server writes its request log into.
 */
export function trafficLocation(config: Config): string {
  return (
    config.monitor?.traffic ??
    config.promote.sagemaker.capture ??
    join(config.store.startsWith("s3://") ? ".mlops" : config.store, "requests")
  );
}

const REQUEST_LOG = /(^|\/)served_events\.csv(\.gz)?$/;
const CAPTURE = /\.jsonl$/;

export interface TrafficOptions {
  config: Config;
  warehouse: Warehouse;
  runId: string;
  reporter: Reporter;
}

export async function loadTraffic(options: TrafficOptions): Promise<FileLoadResult[]> {
  const location = trafficLocation(options.config);
  const source = openTraffic(location);
  if (!source) return [];
  const keys = (await source.list("")).filter((key) => REQUEST_LOG.test(key) || CAPTURE.test(key));
  if (keys.length === 0) return [];
  options.reporter.info(`production traffic: ${keys.length} file(s) in ${location}`);
  const work = await mkdtemp(join(tmpdir(), "mlops-traffic-"));
  const results: FileLoadResult[] = [];
  try {
    for (const [index, key] of keys.entries()) {
      // The key, flattened, names the load in raw_loads: which log or capture file it was.
      const local = join(work, key.replaceAll("/", "_"));
      if (!(await source.getFile(key, local))) continue;
      const warnings: string[] = [];
      const path = CAPTURE.test(key) ? await captureAsRows(local, key, warnings) : local;
      const result = await loadFile({
        kind: "served",
        path,
        warehouse: options.warehouse,
        // One load per file: a run may bring many logs, and an etl_id names one load.
        etlId: `${options.runId}:served:${index + 1}`,
        tenant: options.config.tenant,
        reporter: options.reporter,
      });
      results.push({
        ...result,
        file: `${location}/${key}`,
        warnings: [...warnings, ...result.warnings],
      });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return results;
}

function openTraffic(location: string): ArtifactStore | undefined {
  if (location.startsWith("s3://")) return new S3Store(parseS3Url(location));
  return existsSync(location) ? new LocalStore(location) : undefined;
}

/**
 * A capture file as served_events.csv rows. Its records that are not invocations are reported
 * (they are not rows of any file the loader could quarantine); its rows are loaded as usual.
 */
async function captureAsRows(path: string, key: string, warnings: string[]): Promise<string> {
  const parsed = parseDataCapture(await readFile(path, "utf8"), key);
  for (const reject of parsed.rejects.slice(0, 5)) {
    warnings.push(`${key}:${reject.line}: ${reject.reason} (record not loaded)`);
  }
  if (parsed.rejects.length > 5) {
    warnings.push(`${key}: ${parsed.rejects.length - 5} more record(s) not loaded`);
  }
  const out = `${path}.served_events.csv`;
  await writeFile(out, [SERVED_HEADER, "\n", ...parsed.events.map(servedEventLine)].join(""));
  return out;
}
