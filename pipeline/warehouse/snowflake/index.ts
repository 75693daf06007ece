/**
 * The Snowflake warehouse's public face: settings, the warehouse class, the driver seam.
 */
import { SnowflakeWarehouse, type SnowflakeWarehouseOptions } from "./snowflake-warehouse.ts";

export { SnowflakeWarehouse, type SnowflakeWarehouseOptions } from "./snowflake-warehouse.ts";
export {
  SNOWFLAKE_ENV,
  WORKLOAD_IDENTITY_PROVIDERS,
  describeSnowflake,
  snowflakeConnectionOptions,
  snowflakeSettingsFromEnv,
  validateSnowflakeSettings,
  type SnowflakeAuth,
  type SnowflakeSettings,
  type WorkloadIdentityProvider,
} from "./config.ts";
export {
  snowflakeSdkDriver,
  type SnowflakeBind,
  type SnowflakeConnection,
  type SnowflakeDriver,
  type SnowflakeRow,
} from "./connection.ts";
export {
  SnowflakeWarehouseError,
  classifySnowflakeError,
  type FailureKind,
  type RetryPolicy,
} from "./errors.ts";

/**
 * `--warehouse snowflake`: settings from the SNOWFLAKE_* variables, then a session opened at
 * once, so that a wrong setting or a refused login fails the run before any work is done.
 */
export async function openSnowflakeWarehouse(
  env: NodeJS.ProcessEnv = process.env,
  options: SnowflakeWarehouseOptions = {},
): Promise<SnowflakeWarehouse> {
  const warehouse = SnowflakeWarehouse.fromEnv(env, options);
  await warehouse.connect();
  return warehouse;
}
