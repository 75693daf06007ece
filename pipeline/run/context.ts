/**
 * What every stage runs with: the config, the run id, the run store, the warehouse and a
 * reporter. The CLI and the GitHub actions build one and hand it to the same stage functions.
 */
import type { ExternalStageCache } from "./memo.ts";
import type { Config, SettingSource } from "../config/config.ts";
import { InputError } from "../errors.ts";
import type { Reporter } from "../reporter.ts";
import { LocalStore } from "../store/local-store.ts";
import { S3Store, parseS3Url } from "../store/s3-store.ts";
import type { ArtifactStore } from "../store/store.ts";
import { DuckDbWarehouse } from "../warehouse/duckdb.ts";
import { openSnowflakeWarehouse } from "../warehouse/snowflake/index.ts";
import type { Warehouse } from "../warehouse/warehouse.ts";

export interface RunContext {
  config: Config;
  /** Where each setting came from (the card lists the changed ones); absent: unknown. */
  configSources?: Record<string, SettingSource>;
  runId: string;
  store: ArtifactStore;
  /** false (`--no-cache`): memoized stages run even when an earlier run had their key. */
  cache?: boolean;
  /** Keeps memoized stages' outputs outside the store too (the Actions cache on a runner). */
  stageCache?: ExternalStageCache;
  reporter: Reporter;
  /** Opened on first use and kept for the run: stages that never query pay nothing. */
  warehouse(): Promise<Warehouse>;
  /**
   * Closes the warehouse until the next `warehouse()` call: another process (dbt-core on the
   * DuckDB file) cannot open a file this one holds.
   */
  releaseWarehouse(): Promise<void>;
  close(): Promise<void>;
}

export function openStore(location: string): ArtifactStore {
  if (location.startsWith("s3://")) {
    try {
      return new S3Store(parseS3Url(location));
    } catch (error) {
      throw new InputError((error as Error).message, { field: "store" });
    }
  }
  return new LocalStore(location);
}

export async function openWarehouse(
  spec: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Warehouse> {
  if (spec === "snowflake") return openSnowflakeWarehouse(env);
  if (spec.startsWith("duckdb:")) return DuckDbWarehouse.open(spec.slice("duckdb:".length));
  throw new InputError(
    `unknown warehouse "${spec}"`,
    { field: "warehouse" },
    "Use duckdb:PATH or snowflake.",
  );
}

export function createContext(
  config: Config,
  runId: string,
  reporter: Reporter,
  configSources?: Record<string, SettingSource>,
): RunContext {
  let warehouse: Promise<Warehouse> | undefined;
  return {
    config,
    ...(configSources ? { configSources } : {}),
    runId,
    reporter,
    store: openStore(config.store),
    warehouse() {
      warehouse ??= openWarehouse(config.warehouse);
      return warehouse;
    },
    async releaseWarehouse() {
      const open = warehouse;
      warehouse = undefined;
      if (open) await (await open).close();
    },
    async close() {
      if (warehouse) await (await warehouse).close();
    },
  };
}
