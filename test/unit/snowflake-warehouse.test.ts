/**
 * The Snowflake warehouse against a recorded call sequence. No Snowflake account can be reached
 * from here, so a scripted driver stands in for snowflake-sdk: each step names the statement it
 * expects (exact text or a pattern), its binds, and the rows or the error to answer with. Every
 * test ends by checking that the whole script was consumed in order and nothing else was sent.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ConnectionOptions } from "snowflake-sdk";
import { afterEach, describe, expect, it } from "vitest";
import { InputError } from "../../pipeline/errors.ts";
import {
  SnowflakeWarehouse,
  SnowflakeWarehouseError,
  snowflakeSettingsFromEnv,
  type SnowflakeBind,
  type SnowflakeConnection,
  type SnowflakeDriver,
  type SnowflakeRow,
  type SnowflakeWarehouseOptions,
} from "../../pipeline/warehouse/snowflake/index.ts";
import {
  SESSION_CONTEXT_SQL,
  findLoadSql,
  insertLoadSql,
  rawSchemaDdl,
} from "../../pipeline/warehouse/snowflake/sql.ts";
import type { LoadMeta, LoadTransaction } from "../../pipeline/warehouse/warehouse.ts";
import { tempDir } from "../helpers/rows.ts";

// --- the scripted driver ---------------------------------------------------------------------

interface Step {
  sql: string | RegExp;
  binds?: SnowflakeBind[];
  rows?: SnowflakeRow[];
  error?: Error;
  /** Runs when the statement arrives (to look at the files a PUT names, or to hold it). */
  onRun?: (sql: string) => void | Promise<void>;
}

class ScriptedDriver implements SnowflakeDriver {
  readonly connects: ConnectionOptions[] = [];
  readonly sent: { sql: string; binds: SnowflakeBind[] }[] = [];
  readonly problems: string[] = [];
  destroyed = 0;

  constructor(
    private readonly steps: Step[],
    /** What each connect does in turn: "ok" or the error to throw. */
    private readonly connectOutcomes: ("ok" | Error)[] = ["ok"],
  ) {}

  async connect(options: ConnectionOptions): Promise<SnowflakeConnection> {
    this.connects.push({ ...options });
    const outcome = this.connectOutcomes.shift();
    if (outcome === undefined) {
      this.problems.push("unexpected connect");
      throw new Error("unexpected connect");
    }
    if (outcome !== "ok") throw outcome;
    return {
      execute: (sql, binds = []) => this.execute(sql, [...binds]),
      destroy: async () => {
        this.destroyed++;
      },
    };
  }

  private async execute(sql: string, binds: SnowflakeBind[]): Promise<SnowflakeRow[]> {
    this.sent.push({ sql, binds });
    const step = this.steps.shift();
    if (!step) {
      this.problems.push(`unexpected statement: ${sql}`);
      throw new Error(`unexpected statement: ${sql}`);
    }
    const matches = typeof step.sql === "string" ? sql === step.sql : step.sql.test(sql);
    if (!matches) this.problems.push(`expected ${String(step.sql)}\n     got ${sql}`);
    if (step.binds !== undefined && JSON.stringify(binds) !== JSON.stringify(step.binds)) {
      this.problems.push(
        `binds of ${sql.slice(0, 40)}: expected ${JSON.stringify(step.binds)}, got ${JSON.stringify(binds)}`,
      );
    }
    await step.onRun?.(sql);
    if (step.error) throw step.error;
    return step.rows ?? [];
  }

  /** The whole script was consumed, in order, and nothing else was sent. */
  expectDone(): void {
    expect(this.problems).toEqual([]);
    expect(this.steps.map((s) => String(s.sql))).toEqual([]);
    expect(this.connectOutcomes).toEqual([]);
  }
}

/** An error shaped like snowflake-sdk's (name, code, sqlState, response, cause). */
function sdkError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

// --- fixtures --------------------------------------------------------------------------------

const PASSWORD = "correct-horse-battery-staple";
const ENV = {
  SNOWFLAKE_ACCOUNT: "myorg-myaccount",
  SNOWFLAKE_USER: "LOADER",
  SNOWFLAKE_PASSWORD: PASSWORD,
  SNOWFLAKE_ROLE: "LOADER_ROLE",
  SNOWFLAKE_WAREHOUSE: "LOAD_WH",
  SNOWFLAKE_DATABASE: "MLOPS",
  SNOWFLAKE_SCHEMA: "RAW",
};
const BASE_OPTIONS = {
  account: "myorg-myaccount",
  warehouse: "LOAD_WH",
  database: "MLOPS",
  schema: "RAW",
};
/** A PEM-shaped key: the SDK is not called here, so it need not be a real one. */
const PEM = `-----BEGIN PRIVATE KEY-----\n${"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC".repeat(2)}\n${"QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB".repeat(2)}\n-----END PRIVATE KEY-----`;
const PASSPHRASE = "open-sesame-42";
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vcjpyZWY6bWFpbiJ9.c2lnbmF0dXJl";

const CONTEXT: Step = {
  sql: SESSION_CONTEXT_SQL,
  binds: [],
  rows: [{ warehouse: "LOAD_WH", database: "MLOPS", schema: "RAW", role: "LOADER_ROLE" }],
};

const HASH = createHash("sha256").update("browsing_train.csv bytes").digest("hex");
const META: LoadMeta = {
  etlId: "run-7:browsing",
  etlTimestamp: "2024-05-01T10:00:00.000Z",
  tenant: "acme",
  sourceFile: "browsing_train.csv",
  sourceHash: HASH,
};

function lookup(rows: SnowflakeRow[] = []): Step {
  return { sql: findLoadSql(), binds: ["raw_browsing_events", HASH], rows };
}

const sleeps: number[] = [];
const logs: string[] = [];
afterEach(() => {
  sleeps.length = 0;
  logs.length = 0;
});

function warehouse(
  driver: SnowflakeDriver,
  env: NodeJS.ProcessEnv = ENV,
  options: SnowflakeWarehouseOptions = {},
): SnowflakeWarehouse {
  return SnowflakeWarehouse.fromEnv(env, {
    driver,
    // Deterministic backoff: no jitter (random 1 → the full step), no real waiting.
    retry: { sleep: async (ms) => void sleeps.push(ms), random: () => 1 },
    log: (line) => logs.push(line),
    ...options,
  });
}

/** Whatever `action` throws, for assertions on its fields. */
async function failure(action: () => unknown): Promise<Error> {
  try {
    await action();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

function sha16(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// --- settings --------------------------------------------------------------------------------

describe("settings from the environment", () => {
  it("password: passes exactly snowflake-sdk's option names, and never prints the password", async () => {
    const driver = new ScriptedDriver([CONTEXT]);
    const wh = warehouse(driver);
    await wh.connect();
    expect(driver.connects).toEqual([
      {
        ...BASE_OPTIONS,
        authenticator: "SNOWFLAKE",
        username: "LOADER",
        role: "LOADER_ROLE",
        password: PASSWORD,
      },
    ]);
    expect(wh.description).toBe(
      "snowflake:myorg-myaccount/MLOPS.RAW (user LOADER, warehouse LOAD_WH, role LOADER_ROLE, password)",
    );
    expect(wh.description).not.toContain(PASSWORD);
    await wh.close();
    expect(driver.destroyed).toBe(1);
    driver.expectDone();
  });

  it("key pair from a file: SNOWFLAKE_JWT with privateKeyPath and privateKeyPass", async () => {
    const env = {
      ...ENV,
      SNOWFLAKE_PASSWORD: undefined,
      SNOWFLAKE_ROLE: "",
      SNOWFLAKE_PRIVATE_KEY_PATH: "/secrets/rsa_key.p8",
      SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE,
    };
    const driver = new ScriptedDriver([CONTEXT]);
    const wh = warehouse(driver, env);
    await wh.connect();
    expect(driver.connects).toEqual([
      {
        ...BASE_OPTIONS,
        authenticator: "SNOWFLAKE_JWT",
        username: "LOADER",
        privateKeyPath: "/secrets/rsa_key.p8",
        privateKeyPass: PASSPHRASE,
      },
    ]);
    expect(wh.description).toBe(
      "snowflake:myorg-myaccount/MLOPS.RAW (user LOADER, warehouse LOAD_WH, key pair)",
    );
    expect(wh.description).not.toContain(PASSPHRASE);
    driver.expectDone();
  });

  it("key pair inline: the PEM text, its \\n escapes restored to line breaks", async () => {
    const env = {
      ...ENV,
      SNOWFLAKE_PASSWORD: "",
      SNOWFLAKE_PRIVATE_KEY: PEM.replaceAll("\n", "\\n"),
      SNOWFLAKE_AUTHENTICATOR: "SNOWFLAKE_JWT",
    };
    const driver = new ScriptedDriver([CONTEXT]);
    const wh = warehouse(driver, env);
    await wh.connect();
    expect(driver.connects).toEqual([
      {
        ...BASE_OPTIONS,
        authenticator: "SNOWFLAKE_JWT",
        username: "LOADER",
        role: "LOADER_ROLE",
        privateKey: `${PEM}\n`,
      },
    ]);
    expect(wh.description).not.toContain("PRIVATE KEY");
    driver.expectDone();
  });

  it("OIDC workload identity: WORKLOAD_IDENTITY with provider OIDC and the token; no user needed", async () => {
    const env = {
      ...ENV,
      SNOWFLAKE_USER: undefined,
      SNOWFLAKE_PASSWORD: undefined,
      SNOWFLAKE_AUTHENTICATOR: "oidc",
      SNOWFLAKE_TOKEN: TOKEN,
    };
    const driver = new ScriptedDriver([CONTEXT]);
    const wh = warehouse(driver, env);
    await wh.connect();
    expect(driver.connects).toEqual([
      {
        ...BASE_OPTIONS,
        authenticator: "WORKLOAD_IDENTITY",
        role: "LOADER_ROLE",
        workloadIdentityProvider: "OIDC",
        token: TOKEN,
      },
    ]);
    expect(wh.description).toBe(
      "snowflake:myorg-myaccount/MLOPS.RAW (warehouse LOAD_WH, role LOADER_ROLE, workload identity (OIDC))",
    );
    expect(wh.description).not.toContain(TOKEN);
    driver.expectDone();
  });

  it("workload identity from the cloud (provider from the environment, no token), inferred without SNOWFLAKE_AUTHENTICATOR", () => {
    const settings = snowflakeSettingsFromEnv({
      ...ENV,
      SNOWFLAKE_PASSWORD: undefined,
      SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "aws",
    });
    expect(settings.auth).toEqual({ kind: "oidc", provider: "AWS" });
  });

  it.each(["SNOWFLAKE_ACCOUNT", "SNOWFLAKE_WAREHOUSE", "SNOWFLAKE_DATABASE", "SNOWFLAKE_SCHEMA"])(
    "missing %s: an InputError naming it",
    (variable) => {
      const error = (() => {
        try {
          snowflakeSettingsFromEnv({ ...ENV, [variable]: "" });
        } catch (e) {
          return e as InputError;
        }
        throw new Error("expected an error");
      })();
      expect(error).toBeInstanceOf(InputError);
      expect(error.message).toContain(`${variable} is not set`);
      expect(error.hint).toContain(`Set ${variable}`);
      expect(error.exitCode).toBe(2);
    },
  );

  it.each([
    [
      "no credentials at all",
      { SNOWFLAKE_PASSWORD: undefined },
      /no Snowflake credentials are set/,
      /SNOWFLAKE_PASSWORD/,
    ],
    [
      "a password and a key, no authenticator",
      { SNOWFLAKE_PRIVATE_KEY_PATH: "/k.p8" },
      /more than one authentication method.*SNOWFLAKE_PASSWORD, SNOWFLAKE_PRIVATE_KEY_PATH/,
      /SNOWFLAKE_AUTHENTICATOR/,
    ],
    [
      "authenticator keypair with a password set",
      { SNOWFLAKE_AUTHENTICATOR: "keypair", SNOWFLAKE_PRIVATE_KEY_PATH: "/k.p8" },
      /SNOWFLAKE_AUTHENTICATOR=keypair but SNOWFLAKE_PASSWORD is also set/,
      /Unset SNOWFLAKE_PASSWORD/,
    ],
    [
      "key path and inline key",
      {
        SNOWFLAKE_PASSWORD: undefined,
        SNOWFLAKE_PRIVATE_KEY_PATH: "/k.p8",
        SNOWFLAKE_PRIVATE_KEY: PEM,
      },
      /both SNOWFLAKE_PRIVATE_KEY_PATH and SNOWFLAKE_PRIVATE_KEY/,
      /Keep one/,
    ],
    [
      "a passphrase with a password",
      { SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE },
      /SNOWFLAKE_PRIVATE_KEY_PASSPHRASE is set but no private key/,
      /unset SNOWFLAKE_PRIVATE_KEY_PASSPHRASE/,
    ],
    [
      "keypair without a key",
      { SNOWFLAKE_PASSWORD: undefined, SNOWFLAKE_AUTHENTICATOR: "keypair" },
      /neither SNOWFLAKE_PRIVATE_KEY_PATH nor SNOWFLAKE_PRIVATE_KEY/,
      /PKCS#8/,
    ],
    [
      "an inline key that is not PEM",
      { SNOWFLAKE_PASSWORD: undefined, SNOWFLAKE_PRIVATE_KEY: "not-a-key-but-secret-material" },
      /does not hold a PEM private key/,
      /openssl pkcs8/,
    ],
    [
      "oidc without token or provider",
      { SNOWFLAKE_PASSWORD: undefined, SNOWFLAKE_AUTHENTICATOR: "oidc" },
      /needs a provider/,
      /SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER/,
    ],
    [
      "provider OIDC without token",
      { SNOWFLAKE_PASSWORD: undefined, SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "OIDC" },
      /needs the identity token, and SNOWFLAKE_TOKEN is not set/,
      /id-token: write/,
    ],
    [
      "provider AWS with a token",
      {
        SNOWFLAKE_PASSWORD: undefined,
        SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "AWS",
        SNOWFLAKE_TOKEN: TOKEN,
      },
      /SNOWFLAKE_TOKEN is set but SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER=AWS/,
      /Unset SNOWFLAKE_TOKEN/,
    ],
    [
      "an unknown provider",
      { SNOWFLAKE_PASSWORD: undefined, SNOWFLAKE_WORKLOAD_IDENTITY_PROVIDER: "github" },
      /not a workload identity provider/,
      /AWS, AZURE, GCP, OIDC/,
    ],
    [
      "an unknown authenticator",
      { SNOWFLAKE_AUTHENTICATOR: "externalbrowser" },
      /not an authenticator this pipeline supports/,
      /password, keypair/,
    ],
    [
      "password auth without a user",
      { SNOWFLAKE_USER: " " },
      /SNOWFLAKE_USER is not set/,
      /Set SNOWFLAKE_USER/,
    ],
    [
      "an account given as a URL",
      { SNOWFLAKE_ACCOUNT: "https://x.snowflakecomputing.com" },
      /invalid Snowflake account identifier/,
      /without https/,
    ],
    [
      "a database name carrying SQL",
      { SNOWFLAKE_DATABASE: 'MLOPS"; DROP DATABASE X; --' },
      /invalid Snowflake database/,
      /SNOWFLAKE_DATABASE/,
    ],
  ])("%s: a named error, no secret in it", (_label, overrides, message, hint) => {
    const env: NodeJS.ProcessEnv = { ...ENV, ...overrides };
    let error: InputError | undefined;
    try {
      snowflakeSettingsFromEnv(env);
    } catch (e) {
      error = e as InputError;
    }
    expect(error).toBeInstanceOf(InputError);
    expect(error?.message).toMatch(message);
    expect(error?.hint).toMatch(hint);
    for (const secret of [
      PASSWORD,
      PASSPHRASE,
      TOKEN,
      "not-a-key-but-secret-material",
      "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    ]) {
      expect(`${error?.message} ${error?.hint}`).not.toContain(secret);
    }
  });

  it("rejects an invalid identifier before any connection or statement", () => {
    const driver = new ScriptedDriver([], []);
    const settings = snowflakeSettingsFromEnv(ENV);
    expect(() => new SnowflakeWarehouse({ ...settings, schema: "raw schema" }, { driver })).toThrow(
      /invalid Snowflake schema "raw schema"/,
    );
    expect(
      () => new SnowflakeWarehouse({ ...settings, role: "x".repeat(256) }, { driver }),
    ).toThrow(/invalid Snowflake role/);
    expect(driver.connects).toEqual([]);
    driver.expectDone();
  });
});

// --- schema, count, query ---------------------------------------------------------------------

describe("statements outside loads", () => {
  it("ensureRawSchema: one CREATE TABLE IF NOT EXISTS per table, retried on a transient failure", async () => {
    const ddl = rawSchemaDdl();
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: ddl[0] as string, binds: [] },
      {
        sql: ddl[1] as string,
        error: sdkError("socket hang up", {
          name: "NetworkError",
          code: 401001,
          cause: { code: "ECONNRESET" },
        }),
      },
      ...ddl.slice(1).map((sql) => ({ sql })),
    ]);
    await warehouse(driver).ensureRawSchema();
    expect(
      ddl.map((s) => /^(CREATE TABLE IF NOT EXISTS|ALTER TABLE) "(\w+)"/.exec(s)?.[2]),
    ).toEqual([
      "RAW_BROWSING_EVENTS",
      "RAW_BROWSING_EVENTS",
      "RAW_SEARCH_EVENTS",
      "RAW_SEARCH_EVENTS",
      "RAW_SKU_CONTENT",
      "RAW_SKU_CONTENT",
      "RAW_SERVED_EVENTS",
      "RAW_SERVED_EVENTS",
      "RAW_REJECTS",
      "RAW_LOADS",
    ]);
    expect(sleeps).toEqual([1000]);
    expect(logs[0]).toMatch(
      /creating the raw tables failed \(socket hang up \(code 401001\)\); retrying in 1.0 s \(attempt 2 of 4\)/,
    );
    driver.expectDone();
  });

  it("count validates the table name before sending anything", async () => {
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: 'SELECT COUNT(*) AS "n" FROM "RAW_LOADS"', binds: [], rows: [{ n: 3 }] },
    ]);
    const wh = warehouse(driver);
    await expect(wh.count("raw_loads; DROP TABLE raw_loads")).rejects.toThrow(/invalid table name/);
    expect(driver.connects).toEqual([]);
    expect(await wh.count("raw_loads")).toBe(3);
    driver.expectDone();
  });

  it("query binds values (DuckDB's $n rewritten), and returns DuckDB-like rows", async () => {
    const driver = new ScriptedDriver([
      CONTEXT,
      {
        sql: "SELECT event_type, COUNT(*) AS n FROM raw_browsing_events WHERE tenant = :1 AND server_timestamp_epoch_ms > :2 GROUP BY 1",
        binds: ["acme'; --", "9007199254740993"],
        rows: [{ EVENT_TYPE: "pageview", N: 2, "Mixed Case": new Date("2024-05-01T10:00:00Z") }],
      },
    ]);
    const rows = await warehouse(driver).query(
      "SELECT event_type, COUNT(*) AS n FROM raw_browsing_events WHERE tenant = $1 AND server_timestamp_epoch_ms > $2 GROUP BY 1",
      ["acme'; --", 9007199254740993n],
    );
    expect(rows).toEqual([
      { event_type: "pageview", n: 2, "Mixed Case": "2024-05-01T10:00:00.000Z" },
    ]);
    driver.expectDone();
  });

  it("a statement that does not compile fails at once, with the statement and a hint", async () => {
    const driver = new ScriptedDriver([
      CONTEXT,
      {
        sql: "SELECT * FROM nope",
        error: sdkError("SQL compilation error:\nObject 'NOPE' does not exist or not authorized.", {
          name: "OperationFailedError",
          code: "002003",
          sqlState: "42S02",
        }),
      },
    ]);
    const error = (await failure(() =>
      warehouse(driver).query("SELECT * FROM nope"),
    )) as SnowflakeWarehouseError;
    expect(error).toBeInstanceOf(SnowflakeWarehouseError);
    expect(error.kind).toBe("sql");
    expect(error.message).toContain(
      "Snowflake: query failed: SQL compilation error:\nObject 'NOPE' does not exist or not authorized. (code 002003, SQL state 42S02) [statement: SELECT * FROM nope]",
    );
    expect(error.hint).toMatch(/SNOWFLAKE_DATABASE=MLOPS and SNOWFLAKE_SCHEMA=RAW exist/);
    expect(sleeps).toEqual([]);
    driver.expectDone();
  });

  it("a write is not retried after a transient failure (it may have run)", async () => {
    const driver = new ScriptedDriver([
      CONTEXT,
      {
        sql: "DELETE FROM raw_rejects WHERE tenant = ?",
        binds: ["acme"],
        error: sdkError("read ECONNRESET", { code: "ECONNRESET" }),
      },
    ]);
    const error = (await failure(() =>
      warehouse(driver).query("DELETE FROM raw_rejects WHERE tenant = ?", ["acme"]),
    )) as SnowflakeWarehouseError;
    expect(error.kind).toBe("transient");
    expect(error.message).not.toContain("attempts");
    expect(sleeps).toEqual([]);
    driver.expectDone();
  });
});

// --- connecting ---------------------------------------------------------------------------------

describe("connecting", () => {
  it("retries a transient connect failure with exponential backoff, then works", async () => {
    const driver = new ScriptedDriver(
      [CONTEXT],
      [
        sdkError("connect ECONNREFUSED", {
          name: "NetworkError",
          code: 401001,
          cause: { code: "ECONNREFUSED" },
        }),
        sdkError("Request failed", {
          name: "RequestFailedError",
          code: 401002,
          response: { statusCode: 503 },
        }),
        "ok",
      ],
    );
    await warehouse(driver).connect();
    expect(driver.connects).toHaveLength(3);
    expect(new Set(driver.connects.map((o) => JSON.stringify(o))).size).toBe(1);
    expect(sleeps).toEqual([1000, 2000]);
    expect(logs).toEqual([
      "snowflake: connecting to myorg-myaccount failed (connect ECONNREFUSED (code 401001)); retrying in 1.0 s (attempt 2 of 4)",
      "snowflake: connecting to myorg-myaccount failed (Request failed (code 401002)); retrying in 2.0 s (attempt 3 of 4)",
    ]);
    driver.expectDone();
  });

  it("gives up after the policy's attempts, saying so", async () => {
    const down = () =>
      sdkError("Request failed", {
        name: "RequestFailedError",
        code: 401002,
        response: { statusCode: 502 },
      });
    const driver = new ScriptedDriver([], [down(), down(), down()]);
    const error = (await failure(() =>
      warehouse(driver, ENV, {
        retry: {
          attempts: 3,
          maxDelayMs: 1500,
          sleep: async (ms) => void sleeps.push(ms),
          random: () => 1,
        },
      }).connect(),
    )) as SnowflakeWarehouseError;
    expect(error.kind).toBe("transient");
    expect(error.message).toMatch(
      /^Snowflake: connecting to snowflake:myorg-myaccount\/MLOPS.RAW .* failed after 3 attempts: Request failed \(code 401002\)$/,
    );
    expect(sleeps).toEqual([1000, 1500]);
    driver.expectDone();
  });

  it("does not retry a refused login; the message and hint name what to check, never the password", async () => {
    const driver = new ScriptedDriver(
      [],
      [
        sdkError(`Incorrect username or password was specified (password ${PASSWORD}).`, {
          name: "OperationFailedError",
          code: "390100",
          sqlState: "08004",
        }),
      ],
    );
    const error = (await failure(() => warehouse(driver).connect())) as SnowflakeWarehouseError;
    expect(error).toBeInstanceOf(SnowflakeWarehouseError);
    expect(error.kind).toBe("auth");
    expect(error.exitCode).toBe(1);
    expect(error.message).toContain("Incorrect username or password was specified (password ***).");
    expect(error.message).not.toContain(PASSWORD);
    expect(error.hint).toMatch(/check SNOWFLAKE_USER and SNOWFLAKE_PASSWORD/);
    expect(error.cause).toBeUndefined();
    expect(driver.connects).toHaveLength(1);
    expect(sleeps).toEqual([]);
    driver.expectDone();
  });

  it("a key-pair login refused: the hint is about the registered public key, and the key never shows", async () => {
    const env = {
      ...ENV,
      SNOWFLAKE_PASSWORD: undefined,
      SNOWFLAKE_PRIVATE_KEY: PEM,
      SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: PASSPHRASE,
    };
    const driver = new ScriptedDriver(
      [],
      [sdkError(`JWT token is invalid. [${PASSPHRASE}]`, { code: "390144", sqlState: "08001" })],
    );
    const error = (await failure(() =>
      warehouse(driver, env).connect(),
    )) as SnowflakeWarehouseError;
    expect(error.kind).toBe("auth");
    expect(error.hint).toMatch(/RSA_PUBLIC_KEY/);
    expect(error.message).not.toContain(PASSPHRASE);
    driver.expectDone();
  });

  it("an account name that does not resolve is a setting to fix, not retried", async () => {
    const driver = new ScriptedDriver(
      [],
      [
        sdkError("getaddrinfo ENOTFOUND myorg-myaccount.snowflakecomputing.com", {
          name: "NetworkError",
          code: 401001,
          cause: { code: "ENOTFOUND" },
        }),
      ],
    );
    const error = (await failure(() => warehouse(driver).connect())) as SnowflakeWarehouseError;
    expect(error.kind).toBe("config");
    expect(error.hint).toMatch(/SNOWFLAKE_ACCOUNT=myorg-myaccount/);
    driver.expectDone();
  });

  it("a warehouse the role cannot use is reported by name, and the session is closed", async () => {
    const driver = new ScriptedDriver([
      {
        ...CONTEXT,
        rows: [{ warehouse: null, database: "MLOPS", schema: "RAW", role: "LOADER_ROLE" }],
      },
    ]);
    const error = (await failure(() => warehouse(driver).connect())) as SnowflakeWarehouseError;
    expect(error.message).toBe(
      "Snowflake: the warehouse LOAD_WH (SNOWFLAKE_WAREHOUSE) does not exist or role LOADER_ROLE cannot use it",
    );
    expect(error.hint).toMatch(
      /Set SNOWFLAKE_WAREHOUSE to an existing warehouse, or grant USAGE on it to role LOADER_ROLE/,
    );
    expect(driver.destroyed).toBe(1);
    driver.expectDone();
  });

  it("a session that expired is dropped, and the next call logs in again", async () => {
    const driver = new ScriptedDriver(
      [
        CONTEXT,
        {
          sql: 'SELECT COUNT(*) AS "n" FROM "RAW_LOADS"',
          error: sdkError("Session no longer exists.", { code: "390111" }),
        },
        CONTEXT,
        { sql: 'SELECT COUNT(*) AS "n" FROM "RAW_LOADS"', rows: [{ n: 1 }] },
      ],
      ["ok", "ok"],
    );
    const wh = warehouse(driver);
    const error = (await failure(() => wh.count("raw_loads"))) as SnowflakeWarehouseError;
    expect(error.kind).toBe("session");
    expect(await wh.count("raw_loads")).toBe(1);
    expect(driver.destroyed).toBe(1);
    driver.expectDone();
  });
});

// --- loads --------------------------------------------------------------------------------------

describe("loads: BEGIN, lookup, PUT per chunk, COPY per table, raw_loads, COMMIT", () => {
  const ROWS_0 = `${"a".repeat(64)},pageview,,,1714557600000,${"b".repeat(64)},2\n${"c".repeat(64)},event_product,detail,${"d".repeat(64)},1714557601000,${"e".repeat(64)},3\n`;
  const ROWS_1 = `${"f".repeat(64)},pageview,,,1714557602000,"${"0".repeat(63)},",4\n`;
  const REJECTS = `5,4,server_timestamp_epoch_ms,"not an integer: ""x""","a,b,c"\n`;

  function files(): {
    dir: string;
    rows0: string;
    rows1: string;
    rejects: string;
    noRejects: string;
  } {
    const dir = tempDir("mlops-sf-test-");
    const paths = {
      dir,
      rows0: join(dir, "browsing.rows.0.csv"),
      rows1: join(dir, "browsing.rows.1.csv"),
      rejects: join(dir, "browsing.rejects.csv"),
      noRejects: join(dir, "empty.rejects.csv"),
    };
    writeFileSync(paths.rows0, ROWS_0);
    writeFileSync(paths.rows1, ROWS_1);
    writeFileSync(paths.rejects, REJECTS);
    writeFileSync(paths.noRejects, "");
    return paths;
  }

  const staged = (part: string, chunk: number, content: string) =>
    `browsing-${part}-${HASH}-${chunk}-${sha16(content)}.csv`;

  /** A PUT of one chunk: the linked file must exist under its content-addressed name, with the chunk's bytes. */
  function put(table: string, name: string, content: string, status = "UPLOADED"): Step {
    return {
      sql: new RegExp(
        `^PUT 'file://(/[^']+)/${escapeRegex(name)}' @%${table} OVERWRITE = FALSE AUTO_COMPRESS = TRUE$`,
      ),
      binds: [],
      onRun: (sql) => {
        const local = /^PUT 'file:\/\/([^']+)'/.exec(sql)?.[1] as string;
        expect(readFileSync(local, "utf8")).toBe(content);
      },
      rows: [{ source: name, target: `${name}.gz`, sourceSize: String(content.length), status }],
    };
  }

  const META_LITERALS = `'run-7:browsing', '2024-05-01 10:00:00.000'::TIMESTAMP_NTZ, 'acme', 'browsing_train.csv', '${HASH}'`;
  const FORMAT = `FILE_FORMAT = (TYPE = CSV FIELD_DELIMITER = ',' RECORD_DELIMITER = '\\n' SKIP_HEADER = 0 FIELD_OPTIONALLY_ENCLOSED_BY = '"' ESCAPE = NONE ESCAPE_UNENCLOSED_FIELD = NONE EMPTY_FIELD_AS_NULL = TRUE NULL_IF = () TRIM_SPACE = FALSE COMPRESSION = GZIP ENCODING = 'UTF8') ON_ERROR = ABORT_STATEMENT`;
  const copyRows = (names: string[]) =>
    // A raw row carries only its load's id; the lineage goes into raw_loads.
    'COPY INTO "RAW_BROWSING_EVENTS" ("SESSION_ID_HASH", "EVENT_TYPE", "PRODUCT_ACTION", "PRODUCT_SKU_HASH", "SERVER_TIMESTAMP_EPOCH_MS", "HASHED_URL", "SOURCE_LINE", "ETL_ID") ' +
    "FROM (SELECT $1, $2, $3, $4, $5, $6, $7, 'run-7:browsing' FROM @%RAW_BROWSING_EVENTS) " +
    `FILES = (${names.map((n) => `'${n}'`).join(", ")}) ${FORMAT}`;
  const copyRejects = (names: string[]) =>
    'COPY INTO "RAW_REJECTS" ("LINE", "COLUMN_INDEX", "COLUMN_NAME", "REASON", "RAW_TEXT", "TARGET_TABLE", "ETL_ID", "ETL_TIMESTAMP", "TENANT", "SOURCE_FILE", "SOURCE_HASH") ' +
    `FROM (SELECT $1, $2, $3, $4, $5, 'raw_browsing_events', ${META_LITERALS} FROM @%RAW_REJECTS) ` +
    `FILES = (${names.map((n) => `'${n}'`).join(", ")}) ${FORMAT}`;
  const INSERT: Step = {
    sql: insertLoadSql(),
    binds: [
      "raw_browsing_events",
      "run-7:browsing",
      "2024-05-01 10:00:00.000",
      "acme",
      "browsing_train.csv",
      HASH,
      4,
      3,
      1,
    ],
  };
  const COUNTS = { rowsRead: 4, rowsLoaded: 3, rowsRejected: 1 };

  async function begin(wh: SnowflakeWarehouse): Promise<LoadTransaction> {
    const started = await wh.beginLoad("browsing", META);
    if ("existing" in started) throw new Error("expected a new load");
    return started;
  }

  /** The script up to the COPYs: connect, BEGIN, lookup, the three PUTs, the second lookup. */
  function throughPuts(): Step[] {
    return [
      CONTEXT,
      { sql: "BEGIN", binds: [] },
      lookup(),
      put("RAW_BROWSING_EVENTS", staged("rows", 0, ROWS_0), ROWS_0),
      put("RAW_BROWSING_EVENTS", staged("rows", 1, ROWS_1), ROWS_1, "SKIPPED"),
      put("RAW_REJECTS", staged("rejects", 0, REJECTS), REJECTS),
      lookup(),
    ];
  }
  const rowsFiles = () => [`${staged("rows", 0, ROWS_0)}.gz`, `${staged("rows", 1, ROWS_1)}.gz`];
  const rejectsFiles = () => [`${staged("rejects", 0, REJECTS)}.gz`];

  it("happy path: the exact statement sequence, and the record", async () => {
    const f = files();
    const stagingRoot = tempDir("mlops-sf-staging-");
    const driver = new ScriptedDriver([
      ...throughPuts(),
      {
        sql: copyRows(rowsFiles()),
        binds: [],
        rows: [
          { file: `${rowsFiles()[0]}`, status: "LOADED", rows_parsed: 2, rows_loaded: 2 },
          { file: `${rowsFiles()[1]}`, status: "LOADED", rows_parsed: 1, rows_loaded: 1 },
        ],
      },
      {
        sql: copyRejects(rejectsFiles()),
        binds: [],
        rows: [{ file: rejectsFiles()[0], status: "LOADED", rows_loaded: 1 }],
      },
      INSERT,
      { sql: "COMMIT", binds: [] },
    ]);
    const wh = warehouse(driver, ENV, { tempDir: stagingRoot });
    const load = await begin(wh);
    await Promise.all([load.addRows(f.rows0), load.addRows(f.rows1)]);
    await load.addRejects(f.rejects);
    const record = await load.commit(COUNTS);
    expect(record).toEqual({ kind: "browsing", ...META, ...COUNTS });
    // The content-addressed links are gone; the caller's chunks are untouched.
    expect(readdirSync(stagingRoot)).toEqual([]);
    expect(existsSync(f.rows0)).toBe(true);
    await load.rollback(); // after commit: nothing to do, nothing sent
    driver.expectDone();
  });

  it("a chunk with no rows (an empty rejects file) is neither PUT nor COPYed", async () => {
    const f = files();
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup(),
      put("RAW_BROWSING_EVENTS", staged("rows", 0, ROWS_0), ROWS_0),
      lookup(),
      {
        sql: copyRows([`${staged("rows", 0, ROWS_0)}.gz`]),
        rows: [{ file: "x", status: "LOADED", rows_loaded: 2 }],
      },
      {
        sql: insertLoadSql(),
        binds: [
          "raw_browsing_events",
          "run-7:browsing",
          "2024-05-01 10:00:00.000",
          "acme",
          "browsing_train.csv",
          HASH,
          2,
          2,
          0,
        ],
      },
      { sql: "COMMIT" },
    ]);
    const load = await begin(warehouse(driver));
    await load.addRows(f.rows0);
    await load.addRejects(f.noRejects);
    await load.commit({ rowsRead: 2, rowsLoaded: 2, rowsRejected: 0 });
    driver.expectDone();
  });

  it("an already-loaded hash: the existing record, no PUT, no COPY", async () => {
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup([
        {
          target_table: "raw_browsing_events",
          etl_id: "run-3:browsing",
          etl_timestamp: "2024-04-01T09:00:00.000Z",
          tenant: "acme",
          source_file: "browsing_train.csv",
          source_hash: HASH,
          rows_read: 10,
          rows_loaded: 9,
          rows_rejected: 1,
        },
      ]),
      { sql: "ROLLBACK", binds: [] },
    ]);
    const result = await warehouse(driver).beginLoad("browsing", META);
    expect(result).toEqual({
      existing: {
        kind: "browsing",
        etlId: "run-3:browsing",
        etlTimestamp: "2024-04-01T09:00:00.000Z",
        tenant: "acme",
        sourceFile: "browsing_train.csv",
        sourceHash: HASH,
        rowsRead: 10,
        rowsLoaded: 9,
        rowsRejected: 1,
      },
    });
    driver.expectDone();
  });

  it("a COPY that fails: ROLLBACK, and an error naming the statement", async () => {
    const f = files();
    const driver = new ScriptedDriver([
      ...throughPuts(),
      {
        sql: copyRows(rowsFiles()),
        error: sdkError(
          "Numeric value 'abc' is not recognized\n  File 'browsing-rows-…', line 2, character 5",
          { name: "OperationFailedError", code: "100038", sqlState: "22018" },
        ),
      },
      { sql: "ROLLBACK", binds: [] },
    ]);
    const load = await begin(warehouse(driver));
    await load.addRows(f.rows0);
    await load.addRows(f.rows1);
    await load.addRejects(f.rejects);
    const error = (await failure(() => load.commit(COUNTS))) as SnowflakeWarehouseError;
    expect(error).toBeInstanceOf(SnowflakeWarehouseError);
    expect(error.message).toMatch(
      /^Snowflake: COPY INTO raw_browsing_events failed: Numeric value 'abc' is not recognized/,
    );
    expect(error.message).toContain(
      '(code 100038, SQL state 22018) [statement: COPY INTO "RAW_BROWSING_EVENTS" ("SESSION_ID_HASH"',
    );
    expect(error.statement).toMatch(/^COPY INTO "RAW_BROWSING_EVENTS"/);
    await load.rollback(); // the caller's rollback after a failed commit sends nothing more
    driver.expectDone();
  });

  it("rows_loaded different from the reader's count: ROLLBACK and an error", async () => {
    const f = files();
    const driver = new ScriptedDriver([
      ...throughPuts(),
      {
        sql: copyRows(rowsFiles()),
        rows: [
          { file: rowsFiles()[0], status: "LOADED", rows_loaded: 2 },
          { file: rowsFiles()[1], status: "LOADED", rows_loaded: 1 },
        ],
      },
      {
        sql: copyRejects(rejectsFiles()),
        rows: [{ file: rejectsFiles()[0], status: "LOADED", rows_loaded: 1 }],
      },
      { sql: "ROLLBACK" },
    ]);
    const load = await begin(warehouse(driver));
    await load.addRows(f.rows0);
    await load.addRows(f.rows1);
    await load.addRejects(f.rejects);
    const error = (await failure(() =>
      load.commit({ ...COUNTS, rowsRejected: 2 }),
    )) as SnowflakeWarehouseError;
    expect(error.message).toBe(
      "Snowflake: COPY INTO raw_rejects loaded 1 rejects of browsing_train.csv but the reader validated 2",
    );
    expect(error.statement).toMatch(/^COPY INTO "RAW_REJECTS"/);
    driver.expectDone();
  });

  it("files Snowflake's load history skips (0 files processed) are an error with a way out, not a silent 0", async () => {
    const f = files();
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup(),
      put("RAW_BROWSING_EVENTS", staged("rows", 0, ROWS_0), ROWS_0, "SKIPPED"),
      lookup(),
      {
        sql: copyRows([`${staged("rows", 0, ROWS_0)}.gz`]),
        rows: [{ status: "Copy executed with 0 files processed." }],
      },
      { sql: "ROLLBACK" },
    ]);
    const load = await begin(warehouse(driver));
    await load.addRows(f.rows0);
    await load.addRejects(f.noRejects);
    const error = (await failure(() =>
      load.commit({ rowsRead: 2, rowsLoaded: 2, rowsRejected: 0 }),
    )) as SnowflakeWarehouseError;
    expect(error.message).toMatch(
      /loaded 0 rows of browsing_train.csv but the reader validated 2; not loaded: browsing-rows-.*\.csv\.gz\. Snowflake did not process those files: its load history/,
    );
    expect(error.hint).toContain(`REMOVE @%raw_browsing_events PATTERN = '.*${HASH}.*'`);
    driver.expectDone();
  });

  it("another session committed the same file meanwhile: nothing is inserted", async () => {
    const f = files();
    const other = {
      target_table: "raw_browsing_events",
      etl_id: "run-8:browsing",
      etl_timestamp: "2024-05-01T10:00:01.000Z",
      tenant: "acme",
      source_file: "browsing_train.csv",
      source_hash: HASH,
      rows_read: 2,
      rows_loaded: 2,
      rows_rejected: 0,
    };
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup(),
      put("RAW_BROWSING_EVENTS", staged("rows", 0, ROWS_0), ROWS_0),
      lookup([other]),
      { sql: "ROLLBACK" },
    ]);
    const load = await begin(warehouse(driver));
    await load.addRows(f.rows0);
    const error = await failure(() => load.commit({ rowsRead: 2, rowsLoaded: 2, rowsRejected: 0 }));
    expect(error.message).toBe(
      "browsing_train.csv was loaded into raw_browsing_events by run-8:browsing while this load (run-7:browsing) was staging it: nothing was inserted",
    );
    driver.expectDone();
  });

  it("a PUT that fails transiently is retried (same name: idempotent); a failed chunk fails the load", async () => {
    const f = files();
    const name = staged("rows", 0, ROWS_0);
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup(),
      {
        ...put("RAW_BROWSING_EVENTS", name, ROWS_0),
        rows: undefined,
        error: sdkError("upload: socket hang up", { code: "ECONNRESET" }),
      },
      put("RAW_BROWSING_EVENTS", name, ROWS_0),
      put("RAW_BROWSING_EVENTS", staged("rows", 1, ROWS_1), ROWS_1, "ERROR"),
      { sql: "ROLLBACK" },
    ]);
    const load = await begin(warehouse(driver));
    await load.addRows(f.rows0);
    expect(sleeps).toEqual([1000]);
    const error = await failure(() => load.addRows(f.rows1));
    expect(error.message).toMatch(/PUT reported ERROR/);
    await expect(load.addRejects(f.rejects)).rejects.toThrow(/already failed: roll it back/);
    await Promise.all([load.rollback(), load.rollback()]);
    await load.rollback();
    driver.expectDone();
  });

  it("ensureRawSchema is refused while a load is open (Snowflake's DDL would commit it)", async () => {
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup(),
      { sql: "ROLLBACK" },
      ...rawSchemaDdl().map((sql) => ({ sql })),
    ]);
    const wh = warehouse(driver);
    const load = await begin(wh);
    await expect(wh.ensureRawSchema()).rejects.toThrow(/cannot run while a load is open/);
    await load.rollback();
    await wh.ensureRawSchema();
    driver.expectDone();
  });

  it("invalid load metadata is refused before any statement", async () => {
    const driver = new ScriptedDriver([], []);
    const wh = warehouse(driver);
    await expect(wh.beginLoad("browsing", { ...META, sourceHash: "run-7" })).rejects.toThrow(
      /not a lowercase hex sha256/,
    );
    await expect(wh.beginLoad("browsing", { ...META, tenant: "a\u0000b" })).rejects.toThrow(
      /control character/,
    );
    await expect(wh.beginLoad("browsing", { ...META, etlTimestamp: "soon" })).rejects.toThrow(
      /not a date/,
    );
    expect(driver.connects).toEqual([]);
    driver.expectDone();
  });

  it("a second load waits for the first to finish instead of joining its transaction", async () => {
    const f = files();
    const driver = new ScriptedDriver([
      CONTEXT,
      { sql: "BEGIN" },
      lookup(),
      put("RAW_BROWSING_EVENTS", staged("rows", 0, ROWS_0), ROWS_0),
      lookup(),
      {
        sql: copyRows([`${staged("rows", 0, ROWS_0)}.gz`]),
        rows: [{ file: "x", status: "LOADED", rows_loaded: 2 }],
      },
      { sql: insertLoadSql() },
      { sql: "COMMIT" },
      { sql: "BEGIN" },
      lookup([
        {
          target_table: "raw_browsing_events",
          etl_id: "run-7:browsing",
          etl_timestamp: "2024-05-01T10:00:00.000Z",
          tenant: "acme",
          source_file: "browsing_train.csv",
          source_hash: HASH,
          rows_read: 2,
          rows_loaded: 2,
          rows_rejected: 0,
        },
      ]),
      { sql: "ROLLBACK" },
    ]);
    const wh = warehouse(driver);
    const first = await begin(wh);
    let secondStarted = false;
    const second = wh.beginLoad("browsing", META).then((result) => {
      secondStarted = true;
      return result;
    });
    await first.addRows(f.rows0);
    expect(secondStarted).toBe(false);
    await first.commit({ rowsRead: 2, rowsLoaded: 2, rowsRejected: 0 });
    expect(await second).toMatchObject({ existing: { etlId: "run-7:browsing" } });
    driver.expectDone();
  });
});
