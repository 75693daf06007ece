/**
 * The Snowflake warehouse: the same contract as DuckDB's, over snowflake-sdk. A load is one
 * explicit transaction: BEGIN and the raw_loads lookup in beginLoad; each chunk the reader hands
 * over is PUT into its table's stage at once (so uploading overlaps with validating the next
 * chunk); commit then runs one COPY INTO per table over all staged chunks, checks rows_loaded,
 * inserts the raw_loads record and COMMITs.
 *
 * Where Snowflake's semantics differ from DuckDB's, and why it is still safe:
 * - PUT is not transactional: a file staged by an attempt that then rolls back stays in the
 *   table stage. Staged names are content-addressed (source hash, chunk number, CSV digest; no
 *   etl id), so a retry stages the same names (OVERWRITE = FALSE skips the upload) and loads
 *   them; a stale file can never be loaded under another chunk's name.
 * - COPY keeps its own load history per table (64 days). The explicit FILES list makes a COPY
 *   of an already-loaded file a no-op; the rows_loaded check turns that into an error instead
 *   of a load record claiming rows this COPY did not insert.
 * - Reads in a Snowflake transaction take no locks and there is no enforced unique constraint,
 *   so the lookup in beginLoad cannot stop another session from loading the same file while
 *   this one stages it. commit repeats the lookup just before its COPY (a statement sees what
 *   was committed before it started) and refuses to insert a second copy; the window left is
 *   the COPY itself.
 * - DDL commits implicitly in Snowflake, so ensureRawSchema runs outside any transaction.
 */
import { copyFile, link, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256File } from "../../data/file-hash.ts";
import type { DataKind } from "../../data/schema.ts";
import {
  LOADS_TABLE_COLUMNS,
  REJECTS_TABLE,
  REJECTS_TABLE_COLUMNS,
  REJECT_COLUMNS,
  dataColumns,
  loadRecordFromRow,
  rawTableColumns,
  rawTableName,
  type ColumnDef,
} from "../raw-tables.ts";
import type {
  LoadCounts,
  LoadMeta,
  LoadRecord,
  LoadTransaction,
  Row,
  SqlValue,
  Warehouse,
} from "../warehouse.ts";
import {
  SNOWFLAKE_ENV,
  describeSnowflake,
  redact,
  snowflakeConnectionOptions,
  snowflakeSecrets,
  snowflakeSettingsFromEnv,
  validateSnowflakeSettings,
  type SnowflakeSettings,
} from "./config.ts";
import {
  snowflakeSdkDriver,
  type SnowflakeBind,
  type SnowflakeConnection,
  type SnowflakeDriver,
  type SnowflakeRow,
} from "./connection.ts";
import {
  DEFAULT_RETRY,
  SnowflakeWarehouseError,
  classifySnowflakeError,
  errorCodes,
  errorMessage,
  hintFor,
  statementForMessage,
  withRetry,
  type RetryPolicy,
} from "./errors.ts";
import {
  SESSION_CONTEXT_SQL,
  copyIntoSql,
  countSql,
  findLoadSql,
  insertLoadSql,
  loadMetaConstants,
  putSql,
  rawSchemaDdl,
  snowflakeTimestamp,
  stagedFileName,
  toSnowflakeBind,
  toSnowflakePlaceholders,
  validateLoadMeta,
} from "./sql.ts";

export interface SnowflakeWarehouseOptions {
  /** Defaults to snowflake-sdk; tests pass a scripted fake. */
  driver?: SnowflakeDriver;
  retry?: Partial<RetryPolicy>;
  /** Where retries are reported; stderr by default (stdout belongs to --json). */
  log?: (line: string) => void;
  /** Where the content-addressed links to the chunks are made; the OS temp folder by default. */
  tempDir?: string;
}

interface StatementOptions {
  /** What is being done, for messages: "COPY INTO raw_browsing_events". */
  what: string;
  /**
   * Whether running it twice is the same as once: reads, CREATE … IF NOT EXISTS, PUT of a
   * content-addressed name. Only these are retried after a transient failure; COPY, INSERT and
   * the transaction statements are not (a retry of a lost COMMIT is the caller's whole-load
   * retry, which the raw_loads lookup makes safe).
   */
  idempotent: boolean;
}

type Part = "rows" | "rejects";

/** One open load: what commit needs to know. */
interface LoadState {
  connection: SnowflakeConnection;
  kind: DataKind;
  meta: LoadMeta;
  table: string;
  /** Private folder for the content-addressed links PUT uploads from. */
  staging: string;
  /** Staged names (with ".gz"), in the order the chunks arrived. */
  staged: Record<Part, string[]>;
}

/** Snowflake's limit on the names in one COPY's FILES list. */
const MAX_FILES_PER_COPY = 1000;

export class SnowflakeWarehouse implements Warehouse {
  readonly kind = "snowflake" as const;
  readonly description: string;
  private readonly driver: SnowflakeDriver;
  private readonly policy: RetryPolicy;
  private readonly secrets: string[];
  private readonly log: (line: string) => void;
  private readonly tempRoot: string;
  private session: Promise<SnowflakeConnection> | undefined;
  /** The connection `session` resolved to, so that only that one is ever forgotten. */
  private current: SnowflakeConnection | undefined;
  /** Load transactions begun and not yet committed or rolled back (0 or 1). */
  private openLoads = 0;
  /** One session, one statement at a time: statements never overlap on the connection. */
  private statements: Promise<unknown> = Promise.resolve();
  /**
   * One load transaction at a time: a second beginLoad waits for the first to commit or roll
   * back (BEGIN inside an open transaction would silently join it). Other operations run
   * meanwhile, inside the open transaction, as they do on DuckDB's single connection.
   */
  private transactions: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly settings: SnowflakeSettings,
    options: SnowflakeWarehouseOptions = {},
  ) {
    validateSnowflakeSettings(settings);
    this.driver = options.driver ?? snowflakeSdkDriver;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.secrets = snowflakeSecrets(settings);
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.tempRoot = options.tempDir ?? tmpdir();
    this.description = describeSnowflake(settings);
  }

  static fromEnv(
    env: NodeJS.ProcessEnv,
    options: SnowflakeWarehouseOptions = {},
  ): SnowflakeWarehouse {
    return new SnowflakeWarehouse(snowflakeSettingsFromEnv(env), options);
  }

  /** Opens the session now (otherwise the first operation does): login errors surface early. */
  async connect(): Promise<void> {
    await this.connection();
  }

  async ensureRawSchema(): Promise<void> {
    if (this.openLoads > 0) {
      // Snowflake commits the open transaction before any DDL: half a load would become visible.
      throw new Error(
        "ensureRawSchema cannot run while a load is open: Snowflake's DDL would commit it",
      );
    }
    const connection = await this.connection();
    for (const ddl of rawSchemaDdl()) {
      await this.exec(connection, ddl, [], { what: "creating the raw tables", idempotent: true });
    }
  }

  async findLoad(kind: DataKind, sourceHash: string): Promise<LoadRecord | undefined> {
    return this.lookup(await this.connection(), kind, sourceHash);
  }

  async beginLoad(
    kind: DataKind,
    meta: LoadMeta,
  ): Promise<LoadTransaction | { existing: LoadRecord }> {
    // Everything that will reach SQL text is checked before the first statement.
    validateLoadMeta(meta);
    const release = await this.transactionSlot();
    try {
      const connection = await this.connection();
      await this.exec(connection, "BEGIN", [], { what: "BEGIN", idempotent: false });
      let existing: LoadRecord | undefined;
      try {
        existing = await this.lookup(connection, kind, meta.sourceHash);
      } catch (error) {
        await this.rollbackQuietly(connection);
        throw error;
      }
      if (existing) {
        // Nothing was written: end the transaction and report the committed load.
        await this.rollbackQuietly(connection);
        release();
        return { existing };
      }
      const staging = await mkdtemp(join(this.tempRoot, "mlops-snowflake-"));
      const state: LoadState = {
        connection,
        kind,
        meta,
        table: rawTableName(kind),
        staging,
        staged: { rows: [], rejects: [] },
      };
      return this.loadTransaction(state, release);
    } catch (error) {
      release();
      throw error;
    }
  }

  async count(table: string): Promise<number> {
    const sql = countSql(table); // validates the identifier before anything is sent
    const rows = await this.exec(await this.connection(), sql, [], {
      what: `counting ${table}`,
      idempotent: true,
    });
    return Number(field(rows[0], "n") ?? 0);
  }

  /**
   * Binds are positional: `?`, `:1`, or DuckDB's `$1` (rewritten to `:1`). Read-only statements
   * are retried after transient failures. Column names Snowflake upper-cased (unquoted aliases)
   * come back in lower case, as DuckDB returns them.
   */
  async query(sql: string, params: SqlValue[] = []): Promise<Row[]> {
    const text = params.length > 0 ? toSnowflakePlaceholders(sql) : sql;
    const idempotent = /^[\s(]*(select|with|show|describe|desc|explain|list)\b/i.test(sql);
    const rows = await this.exec(await this.connection(), text, params.map(toSnowflakeBind), {
      what: "query",
      idempotent,
    });
    return rows.map(toRow);
  }

  /** Ends the session; an open load transaction is aborted by the server with it. */
  async close(): Promise<void> {
    this.closed = true;
    await this.statements;
    await this.dropSession();
  }

  // --- loads -----------------------------------------------------------------------------

  private loadTransaction(state: LoadState, release: () => void): LoadTransaction {
    // Calls apply in order, each after the one before, while the caller stages the next chunk.
    let queue: Promise<void> = Promise.resolve();
    let failed = false;
    let finished = false;
    const step = (work: () => Promise<void>): Promise<void> => {
      const next = queue.then(async () => {
        if (finished) throw new Error(`the load of ${state.meta.sourceFile} is already finished`);
        if (failed)
          throw new Error(`the load of ${state.meta.sourceFile} already failed: roll it back`);
        await work().catch((error: unknown) => {
          failed = true;
          throw error;
        });
      });
      queue = next.catch(() => undefined);
      return next;
    };
    const finish = async (): Promise<void> => {
      finished = true;
      await rm(state.staging, { recursive: true, force: true });
      release();
    };
    // Once, however often it is called (commit's failure path and then the caller's cleanup).
    let ending: Promise<void> | undefined;
    const rollback = (): Promise<void> => {
      if (finished && !ending) return Promise.resolve();
      ending ??= (async () => {
        await queue;
        finished = true;
        await this.rollbackQuietly(state.connection);
        await finish();
      })();
      return ending;
    };
    return {
      addRows: (path) => step(() => this.stageChunk(state, "rows", path)),
      addRejects: (path) => step(() => this.stageChunk(state, "rejects", path)),
      commit: async (counts) => {
        let record: LoadRecord | undefined;
        try {
          await step(async () => {
            record = await this.commitLoad(state, counts);
          });
        } catch (error) {
          await rollback();
          throw error;
        }
        await finish();
        if (!record) throw new Error(`the load of ${state.meta.sourceFile} committed no record`);
        return record;
      },
      rollback,
    };
  }

  /**
   * PUT of one chunk. PUT keeps the local file's name, so the chunk is hard-linked (copied across
   * file systems) under its content-addressed name first; the link goes once it is uploaded, and
   * the caller may delete its file as soon as this resolves.
   */
  private async stageChunk(state: LoadState, part: Part, path: string): Promise<void> {
    if ((await stat(path)).size === 0) return; // nothing to stage (a load without rejects)
    const table = part === "rows" ? state.table : REJECTS_TABLE;
    const name = stagedFileName(
      state.kind,
      part,
      state.meta.sourceHash,
      state.staged[part].length,
      (await sha256File(path)).sha256,
    );
    const local = join(state.staging, name);
    await link(path, local).catch(() => copyFile(path, local));
    try {
      const staged = `${name}.gz`;
      const put = putSql(local, table);
      const rows = await this.exec(state.connection, put, [], {
        what: `PUT of ${part} chunk ${state.staged[part].length} into @%${table}`,
        idempotent: true,
      });
      for (const row of rows) {
        const status = String(field(row, "status") ?? "");
        const target = field(row, "target");
        if (
          !["UPLOADED", "SKIPPED"].includes(status) ||
          (target !== undefined && target !== staged)
        ) {
          throw new SnowflakeWarehouseError(
            `Snowflake: PUT reported ${status || "no status"} for ${String(target)} (expected ${staged}, UPLOADED or SKIPPED)`,
            "other",
            statementForMessage(put),
          );
        }
      }
      state.staged[part].push(staged);
    } finally {
      await rm(local, { force: true });
    }
  }

  private async commitLoad(state: LoadState, counts: LoadCounts): Promise<LoadRecord> {
    const { kind, meta, table, connection } = state;
    for (const [name, value] of Object.entries(counts)) {
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new Error(`${name} must be a non-negative integer, got ${String(value)}`);
      }
    }
    // Another session may have committed the same content while this one staged it.
    const concurrent = await this.lookup(connection, kind, meta.sourceHash);
    if (concurrent) {
      throw new SnowflakeWarehouseError(
        `${meta.sourceFile} was loaded into ${table} by ${concurrent.etlId} while this load (${meta.etlId}) was staging it: nothing was inserted`,
        "other",
        undefined,
        "The file is loaded once, by the other run; running again reports it as skipped.",
      );
    }
    const constants = loadMetaConstants(meta);
    await this.copyChunks(state, "rows", {
      table,
      columns: rawTableColumns(kind),
      fileColumns: dataColumns(kind).length,
      constants,
      expected: counts.rowsLoaded,
    });
    await this.copyChunks(state, "rejects", {
      table: REJECTS_TABLE,
      columns: REJECTS_TABLE_COLUMNS,
      fileColumns: REJECT_COLUMNS.length,
      constants: { ...constants, target_table: table },
      expected: counts.rowsRejected,
    });
    const values: Record<string, SnowflakeBind> = {
      target_table: table,
      etl_id: meta.etlId,
      etl_timestamp: snowflakeTimestamp(meta.etlTimestamp),
      tenant: meta.tenant,
      source_file: meta.sourceFile,
      source_hash: meta.sourceHash,
      rows_read: counts.rowsRead,
      rows_loaded: counts.rowsLoaded,
      rows_rejected: counts.rowsRejected,
    };
    await this.exec(
      connection,
      insertLoadSql(),
      LOADS_TABLE_COLUMNS.map((c) => values[c.name] ?? null),
      { what: "recording the load in raw_loads", idempotent: false },
    );
    await this.exec(connection, "COMMIT", [], { what: "COMMIT", idempotent: false });
    return {
      kind,
      etlId: meta.etlId,
      etlTimestamp: new Date(meta.etlTimestamp).toISOString(),
      tenant: meta.tenant,
      sourceFile: meta.sourceFile,
      sourceHash: meta.sourceHash,
      ...counts,
    };
  }

  /** COPY INTO over every staged chunk of one part, then the rows_loaded check. */
  private async copyChunks(
    state: LoadState,
    part: Part,
    target: {
      table: string;
      columns: readonly ColumnDef[];
      fileColumns: number;
      constants: Record<string, string>;
      expected: number;
    },
  ): Promise<void> {
    const files = state.staged[part];
    let loaded = 0;
    const reported = new Map<string, string>();
    let lastStatement = "";
    for (let start = 0; start < files.length; start += MAX_FILES_PER_COPY) {
      const copy = copyIntoSql({
        ...target,
        stagedFiles: files.slice(start, start + MAX_FILES_PER_COPY),
      });
      lastStatement = copy;
      const result = await this.exec(state.connection, copy, [], {
        what: `COPY INTO ${target.table}`,
        idempotent: false,
      });
      for (const row of result) {
        loaded += Number(field(row, "rows_loaded")) || 0;
        const file = field(row, "file");
        if (typeof file === "string")
          reported.set(file.slice(file.lastIndexOf("/") + 1), String(field(row, "status") ?? ""));
      }
    }
    if (loaded === target.expected) return;
    const notLoaded = files.filter((file) => reported.get(file) !== "LOADED");
    const skipped = notLoaded.filter((file) => !reported.has(file));
    throw new SnowflakeWarehouseError(
      `Snowflake: COPY INTO ${target.table} loaded ${loaded} ${part} of ${state.meta.sourceFile} but the reader validated ${target.expected}` +
        (notLoaded.length
          ? `; not loaded: ${notLoaded.slice(0, 5).join(", ")}${notLoaded.length > 5 ? ", …" : ""}`
          : "") +
        (skipped.length
          ? ". Snowflake did not process those files: its load history says they were loaded into the table before, although raw_loads has no record of it"
          : ""),
      "other",
      lastStatement ? statementForMessage(lastStatement) : undefined,
      skipped.length
        ? `Check ${target.table} for rows whose etl_id has no raw_loads record (SELECT DISTINCT etl_id FROM ${target.table} WHERE etl_id NOT IN (SELECT etl_id FROM raw_loads)); delete them (and the staged files: REMOVE @%${target.table} PATTERN = '.*${state.meta.sourceHash}.*') before loading again.`
        : "The staged chunks and the reader's counts disagree: run the upload again; if it recurs, report it with the file.",
    );
  }

  /** Waits for the load before this one to finish; the function returned ends this one's turn. */
  private async transactionSlot(): Promise<() => void> {
    let resolve: () => void = () => undefined;
    const released = new Promise<void>((r) => {
      resolve = r;
    });
    const previous = this.transactions;
    this.transactions = previous.then(() => released);
    await previous;
    this.openLoads++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.openLoads--;
      resolve();
    };
  }

  /** Ends a transaction; if even that fails, drops the session so the server aborts it. */
  private async rollbackQuietly(connection: SnowflakeConnection): Promise<void> {
    try {
      await this.exclusive(() => connection.execute("ROLLBACK", []));
    } catch {
      this.forgetSession(connection);
    }
  }

  // --- session and statements ------------------------------------------------------------

  private connection(): Promise<SnowflakeConnection> {
    if (this.closed) return Promise.reject(new Error(`${this.description} is closed`));
    this.session ??= this.openSession().then(
      (connection) => {
        this.current = connection;
        return connection;
      },
      (error: unknown) => {
        this.session = undefined;
        throw error;
      },
    );
    return this.session;
  }

  private async openSession(): Promise<SnowflakeConnection> {
    const options = snowflakeConnectionOptions(this.settings);
    let connection: SnowflakeConnection;
    try {
      connection = await withRetry(
        () => this.driver.connect(options),
        this.policy,
        (error) => classifySnowflakeError(error) === "transient",
        (error, attempt, delay) =>
          this.logRetry(`connecting to ${this.settings.account}`, error, attempt, delay),
      );
    } catch (error) {
      throw this.failure(`connecting to ${this.description}`, error);
    }
    try {
      await this.checkSessionContext(connection);
    } catch (error) {
      await connection.destroy().catch(() => undefined);
      throw error;
    }
    return connection;
  }

  /**
   * Snowflake logs in even when the warehouse, database or schema named in the options does not
   * exist or the role cannot use it, leaving that part of the session context empty: every later
   * statement would then fail with a vaguer message. Say which setting is wrong now.
   */
  private async checkSessionContext(connection: SnowflakeConnection): Promise<void> {
    const rows = await this.exec(connection, SESSION_CONTEXT_SQL, [], {
      what: "reading the session's warehouse, database and schema",
      idempotent: true,
    });
    const row = rows[0];
    const role = field(row, "role");
    const who = typeof role === "string" && role ? `role ${role}` : "the session's role";
    const checks: [string, string, string][] = [
      ["warehouse", SNOWFLAKE_ENV.warehouse, this.settings.warehouse],
      ["database", SNOWFLAKE_ENV.database, this.settings.database],
      ["schema", SNOWFLAKE_ENV.schema, this.settings.schema],
    ];
    for (const [what, variable, value] of checks) {
      const current = field(row, what);
      if (current === null || current === undefined || current === "") {
        throw new SnowflakeWarehouseError(
          `Snowflake: the ${what} ${value} (${variable}) does not exist or ${who} cannot use it`,
          "config",
          SESSION_CONTEXT_SQL,
          `Set ${variable} to an existing ${what}, or grant USAGE on it to ${who}${what === "schema" ? " (and CREATE TABLE, for the raw tables)" : ""}.`,
        );
      }
    }
  }

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.statements.then(operation, operation);
    this.statements = run.catch(() => undefined);
    return run;
  }

  /** One statement, after the ones before it; transient failures of idempotent ones retried. */
  private async exec(
    connection: SnowflakeConnection,
    sql: string,
    binds: readonly SnowflakeBind[],
    options: StatementOptions,
  ): Promise<SnowflakeRow[]> {
    try {
      return await this.exclusive(() =>
        withRetry(
          () => connection.execute(sql, binds),
          this.policy,
          (error) => options.idempotent && classifySnowflakeError(error) === "transient",
          (error, attempt, delay) => this.logRetry(options.what, error, attempt, delay),
        ),
      );
    } catch (error) {
      // A session that is gone cannot run the next statement either: reconnect next time.
      if (classifySnowflakeError(error) === "session") this.forgetSession(connection);
      throw this.failure(options.what, error, sql, options.idempotent);
    }
  }

  private async lookup(
    connection: SnowflakeConnection,
    kind: DataKind,
    sourceHash: string,
  ): Promise<LoadRecord | undefined> {
    const rows = await this.exec(connection, findLoadSql(), [rawTableName(kind), sourceHash], {
      what: "looking up raw_loads",
      idempotent: true,
    });
    const row = rows[0];
    return row ? loadRecordFromRow(kind, toRow(row)) : undefined;
  }

  private forgetSession(connection: SnowflakeConnection): void {
    if (this.current === connection) {
      this.session = undefined;
      this.current = undefined;
    }
    void connection.destroy().catch(() => undefined);
  }

  private async dropSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    this.current = undefined;
    if (!session) return;
    const connection = await session.catch(() => undefined);
    await connection?.destroy().catch(() => undefined);
  }

  private logRetry(what: string, error: unknown, attempt: number, delayMs: number): void {
    this.log(
      redact(
        `snowflake: ${what} failed (${errorMessage(error)}${errorCodes(error)}); retrying in ${(delayMs / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${this.policy.attempts})`,
        this.secrets,
      ),
    );
  }

  /**
   * The error a caller sees: what failed, the driver's message and codes, the statement (never
   * its binds), and a hint. The driver's error is deliberately not attached as `cause`: its
   * `response` can carry request headers with session tokens.
   */
  private failure(
    what: string,
    error: unknown,
    sql?: string,
    retried = true,
  ): SnowflakeWarehouseError {
    if (error instanceof SnowflakeWarehouseError) return error;
    const kind = classifySnowflakeError(error);
    const statement =
      sql === undefined ? undefined : redact(statementForMessage(sql), this.secrets);
    const attempts =
      kind === "transient" && retried ? ` after ${this.policy.attempts} attempts` : "";
    const message = redact(
      `Snowflake: ${what} failed${attempts}: ${errorMessage(error)}${errorCodes(error)}${statement ? ` [statement: ${statement}]` : ""}`,
      this.secrets,
    );
    return new SnowflakeWarehouseError(message, kind, statement, hintFor(kind, this.settings));
  }
}

/** A column of a driver row, whatever case Snowflake gave its name. */
function field(row: SnowflakeRow | undefined, name: string): unknown {
  if (!row) return undefined;
  if (name in row) return row[name];
  const wanted = name.toLowerCase();
  const key = Object.keys(row).find((k) => k.toLowerCase() === wanted);
  return key === undefined ? undefined : row[key];
}

function toRow(row: SnowflakeRow): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) {
    out[/[a-z]/.test(key) ? key : key.toLowerCase()] = toSqlValue(value);
  }
  return out;
}

function toSqlValue(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (
    typeof value === "string" ||
    typeof value === "number" ||
    typeof value === "boolean" ||
    typeof value === "bigint"
  ) {
    return value;
  }
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value.toString("hex");
  if (typeof value === "object" && "toJSON" in value && typeof value.toJSON === "function") {
    return String((value as { toJSON(): unknown }).toJSON());
  }
  return JSON.stringify(value);
}
