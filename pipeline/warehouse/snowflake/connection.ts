/**
 * The seam between the warehouse and snowflake-sdk. The warehouse speaks to a `SnowflakeDriver`:
 * tests hand it a scripted fake, production the driver below, which wraps the SDK's callback API
 * in promises and keeps its `any`-typed rows and errors from leaking further in.
 */
import type * as SnowflakeSdkModule from "snowflake-sdk";
import type { Binds, Connection, ConnectionOptions, SnowflakeLogger } from "snowflake-sdk";

export type SnowflakeBind = string | number | boolean | null;
/** One result row as the driver returns it (rowMode "object"), values not yet converted. */
export type SnowflakeRow = Record<string, unknown>;

export interface SnowflakeConnection {
  /** Runs one statement to completion and returns all of its rows. */
  execute(sqlText: string, binds?: readonly SnowflakeBind[]): Promise<SnowflakeRow[]>;
  destroy(): Promise<void>;
}

export interface SnowflakeDriver {
  /** Opens and authenticates a new session; each call is a new connection. */
  connect(options: ConnectionOptions): Promise<SnowflakeConnection>;
}

type SnowflakeSdk = typeof SnowflakeSdkModule;

let sdk: Promise<SnowflakeSdk> | undefined;

/**
 * snowflake-sdk pulls in the AWS, Azure and GCP SDKs: imported on first use, so a DuckDB run never
 * pays for it. Its default logger writes to ./snowflake.log and to stdout (which `--json`
 * reserves), so it is replaced by one that prints errors only, on stderr; the SDK masks secrets in
 * what it hands a custom logger.
 */
async function loadSdk(): Promise<SnowflakeSdk> {
  sdk ??= import("snowflake-sdk").then((module) => {
    // A CommonJS module: under Node's ESM loader its exports object is the default export.
    const loaded: SnowflakeSdk = (module.default as SnowflakeSdk | undefined) ?? module;
    loaded.configure({ logLevel: "ERROR", customLogger: stderrLogger });
    return loaded;
  });
  return sdk;
}

const stderrLogger: SnowflakeLogger = {
  error: (message) => process.stderr.write(`snowflake-sdk: ${message}\n`),
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  trace: () => undefined,
};

/** The production driver: snowflake-sdk's createConnection / connectAsync / execute. */
export const snowflakeSdkDriver: SnowflakeDriver = {
  async connect(options) {
    const { createConnection } = await loadSdk();
    const connection = createConnection(options);
    await new Promise<void>((resolve, reject) => {
      // connectAsync reports some failures through the callback and throws others: take both.
      connection
        .connectAsync((error) => (error ? reject(error) : resolve()))
        .catch((error: unknown) => reject(error));
    });
    return new SdkConnection(connection);
  },
};

class SdkConnection implements SnowflakeConnection {
  constructor(private readonly connection: Connection) {}

  execute(sqlText: string, binds: readonly SnowflakeBind[] = []): Promise<SnowflakeRow[]> {
    return new Promise((resolve, reject) => {
      this.connection.execute({
        sqlText,
        binds: binds as Binds,
        // Rows are collected in memory: every statement here returns a handful of rows
        // (COPY and PUT report one per file); bulk data never travels through execute.
        streamResult: false,
        rowMode: "object",
        complete: (error, _statement, rows) => {
          if (error) reject(error);
          else resolve(Array.isArray(rows) ? rows.map(toRow) : []);
        },
      });
    });
  }

  destroy(): Promise<void> {
    return new Promise((resolve) => {
      // A failed logout leaves nothing for us to do: the server ends the session on expiry.
      this.connection.destroy(() => resolve());
    });
  }
}

function toRow(row: unknown): SnowflakeRow {
  return typeof row === "object" && row !== null ? { ...(row as SnowflakeRow) } : {};
}
