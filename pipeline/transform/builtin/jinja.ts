/**
 * dbt's Jinja context on nunjucks: `ref`, `source`, `var`, `env_var`, `config`,
 * `is_incremental()`, `this`, `target`, `adapter.dispatch` into the project's own macros, and the
 * project's macros by name. Nunjucks is close to Jinja but not equal to it, so what would render
 * differently (Python string formatting with `%`, dbt's statement blocks, `return`, packages) is
 * refused with the file, line and construct rather than rendered wrong.
 */
import nunjucks from "nunjucks";
import { InputError } from "../../errors.ts";
import type { NodeConfig, ProjectFile } from "./project.ts";
import { SUPPORTED_CONFIG_KEYS } from "./project.ts";

export interface TargetInfo {
  name: string;
  /** The adapter: `duckdb` or `snowflake`; picks the `<adapter>__` macro implementations. */
  type: string;
  schema: string;
  database: string;
  profile_name: string;
  threads: number;
}

/** What rendering one node needs from the graph around it. */
export interface RenderScope {
  file: string;
  ref(name: string): string;
  source(sourceName: string, table: string): string;
  /** The node's own relation, rendered for `{{ this }}`. */
  thisRelation?: string;
  isIncremental: boolean;
}

export interface Rendered {
  sql: string;
  refs: string[];
  sources: [string, string][];
  config: NodeConfig;
  /** Project macros the node called (directly or through other macros). */
  macros: string[];
}

interface MacroTemplate {
  getExported(
    context: object,
    callback: (error: Error | null, exported: Record<string, unknown>) => void,
  ): void;
}

export const SUPPORTED_JINJA =
  "ref, source, var, env_var (DBT_* and MLOPS_* variables), config (materialized, schema, alias, tags, enabled, unique_key, incremental_strategy, severity), is_incremental(), this, target, adapter.dispatch into the project's macros, project macros, and Jinja statements/filters that nunjucks shares with Jinja (if, for, set, macro, filter, raw, whitespace control)";

/**
 * A relation as the adapter's dbt plugin renders it: dbt-duckdb quotes `"schema"."identifier"`
 * (the connection has the database open); dbt-snowflake leaves `database.schema.identifier`
 * unquoted, so Snowflake resolves them upper-cased as it created them.
 */
export function relationName(target: TargetInfo, schema: string, identifier: string): string {
  if (target.type === "snowflake") {
    return [target.database, schema, identifier].filter((part) => part !== "").join(".");
  }
  return `"${schema.replaceAll('"', '""')}"."${identifier.replaceAll('"', '""')}"`;
}

/**
 * Names a template may never reach: through them a property chain leads from any value to
 * JavaScript's Function constructor (`ref.constructor("…")()` runs code), and nunjucks compiles
 * member access to plain property lookups.
 */
const FORBIDDEN_NAMES: ReadonlySet<string> = new Set([
  "constructor",
  "prototype",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);

/**
 * The variables `env_var` may read: dbt's own (`DBT_…`) and the pipeline's settings
 * (`MLOPS_…`). Anything else (cloud credentials, tokens) is not a template's business, and the
 * compiled SQL is saved in manifest.json. dbt's secret variables (`DBT_ENV_SECRET_…`) are for
 * profiles only, as in dbt itself.
 */
function envVarProblem(name: string): void {
  if (name.startsWith("DBT_ENV_SECRET_")) {
    throw new Error(
      `env_var('${name}'): secret variables (DBT_ENV_SECRET_*) may be used in profiles.yml only, never in a model (its SQL is saved in manifest.json)`,
    );
  }
  if (!name.startsWith("DBT_") && !name.startsWith("MLOPS_")) {
    throw new Error(
      `env_var('${name}'): the built-in runner reads only DBT_* and MLOPS_* variables in models`,
    );
  }
}

/**
 * Member access in templates (`a.b`, `a['b']`), in place of nunjucks' own: only a value's own
 * properties (a target's fields, a list's items, a macro namespace's macros), never a property
 * of a function and never a name from FORBIDDEN_NAMES, however the name was put together.
 */
function safeMemberLookup(obj: unknown, key: unknown): unknown {
  if (obj === undefined || obj === null) return undefined;
  const name = String(key);
  if (FORBIDDEN_NAMES.has(name)) {
    throw new Error(`unsupported construct: .${name} (templates cannot reach JavaScript)`);
  }
  if (typeof obj === "function") {
    throw new Error(`unsupported construct: .${name} of a function`);
  }
  const holder = typeof obj === "object" ? obj : Object(obj);
  if (!Object.hasOwn(holder as object, name)) return undefined;
  const value = (holder as Record<string, unknown>)[name];
  return typeof value === "function"
    ? (...args: unknown[]) => (value as (...a: unknown[]) => unknown).apply(obj, args)
    : value;
}

(
  nunjucks as unknown as { runtime: { memberLookup: typeof safeMemberLookup } }
).runtime.memberLookup = safeMemberLookup;

export class JinjaRenderer {
  private readonly env: nunjucks.Environment;
  private readonly macroNames = new Set<string>();
  private scope: RenderScope | undefined;
  private calls: Omit<Rendered, "sql"> | undefined;

  constructor(
    readonly projectName: string,
    readonly target: TargetInfo,
    private readonly vars: Record<string, unknown>,
    macroFiles: ProjectFile[],
    private readonly environment: NodeJS.ProcessEnv = process.env,
  ) {
    this.env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: true });
    this.installGlobals();
    for (const file of macroFiles) this.loadMacros(file);
  }

  /** Renders a model, test or property value; every call into the graph is recorded. */
  render(source: string, scope: RenderScope): Rendered {
    checkTokens(source, scope.file);
    const calls: Omit<Rendered, "sql"> = { refs: [], sources: [], config: {}, macros: [] };
    this.scope = scope;
    this.calls = calls;
    try {
      const sql = new nunjucks.Template(source, this.env, scope.file, true).render({});
      return { sql, ...calls };
    } catch (error) {
      throw templateError(error, scope.file);
    } finally {
      this.scope = undefined;
      this.calls = undefined;
    }
  }

  private current(what: string): { scope: RenderScope; calls: Omit<Rendered, "sql"> } {
    if (!this.scope || !this.calls) throw new Error(`${what} called outside a node`);
    return { scope: this.scope, calls: this.calls };
  }

  private installGlobals(): void {
    const env = this.env;
    // Python's constants, which Jinja knows and nunjucks does not: an undefined `True` would
    // silently be false in an `if`.
    env.addGlobal("True", true);
    env.addGlobal("False", false);
    env.addGlobal("None", null);
    env.addGlobal("target", this.target);
    env.addGlobal("project_name", this.projectName);
    env.addGlobal("ref", (...args: unknown[]) => {
      const { scope, calls } = this.current("ref");
      const [name, version] = positional(args, "ref");
      if (version !== undefined || typeof name !== "string") {
        throw new Error("ref() takes one model name here (no package or version arguments)");
      }
      if (!calls.refs.includes(name)) calls.refs.push(name);
      return scope.ref(name);
    });
    env.addGlobal("source", (...args: unknown[]) => {
      const { scope, calls } = this.current("source");
      const [sourceName, table] = positional(args, "source");
      if (typeof sourceName !== "string" || typeof table !== "string") {
        throw new Error("source() takes a source name and a table name");
      }
      if (!calls.sources.some(([s, t]) => s === sourceName && t === table)) {
        calls.sources.push([sourceName, table]);
      }
      return scope.source(sourceName, table);
    });
    env.addGlobal("var", (...args: unknown[]) => {
      const [name, fallback] = positional(args, "var");
      if (typeof name !== "string") throw new Error("var() takes a variable name");
      if (Object.hasOwn(this.vars, name)) return pythonic(this.vars[name]);
      if (args.length >= 2) return pythonic(fallback);
      throw new Error(
        `Required var '${name}' not found in config: set it under vars: in dbt_project.yml or pass it with --vars`,
      );
    });
    env.addGlobal("env_var", (...args: unknown[]) => {
      const [name, fallback] = positional(args, "env_var");
      if (typeof name !== "string") throw new Error("env_var() takes a variable name");
      envVarProblem(name);
      const value = this.environment[name];
      if (value !== undefined) return value;
      if (args.length >= 2) return fallback;
      throw new Error(`Env var required but not provided: '${name}'`);
    });
    env.addGlobal("config", (...args: unknown[]) => {
      const { calls } = this.current("config");
      const options = keywords(args);
      for (const [key, value] of Object.entries(options)) {
        if (!SUPPORTED_CONFIG_KEYS.has(key as keyof NodeConfig)) {
          throw new Error(`unsupported construct: config(${key}=...)`);
        }
        (calls.config as Record<string, unknown>)[key] = value;
      }
      return "";
    });
    env.addGlobal("is_incremental", () => this.current("is_incremental()").scope.isIncremental);
    // `this` is looked up when rendered: a model's own relation (or a test's).
    Object.defineProperty(globalsOf(env), "this", { get: () => this.scope?.thisRelation });
    env.addGlobal("adapter", {
      dispatch: (...args: unknown[]) => {
        const [name, namespace] = positional(args, "adapter.dispatch");
        if (typeof name !== "string") throw new Error("adapter.dispatch() takes a macro name");
        if (namespace !== undefined && namespace !== null && namespace !== this.projectName) {
          throw new Error(
            `unsupported construct: adapter.dispatch into package "${String(namespace)}" (only this project's macros)`,
          );
        }
        for (const candidate of [`${this.target.type}__${name}`, `default__${name}`]) {
          const macro = this.macro(candidate);
          if (macro) return macro;
        }
        throw new Error(
          `adapter.dispatch('${name}') found neither ${this.target.type}__${name} nor default__${name} among the project's macros`,
        );
      },
    });
  }

  private macro(name: string): ((...args: unknown[]) => unknown) | undefined {
    if (!this.macroNames.has(name)) return undefined;
    const fn = globalsOf(this.env)[name];
    return typeof fn === "function" ? (fn as (...args: unknown[]) => unknown) : undefined;
  }

  /** Defines a macro file's macros as globals, so models and other macros call them by name. */
  private loadMacros(file: ProjectFile): void {
    checkTokens(file.text, file.path);
    let exported: Record<string, unknown> = {};
    try {
      const template = new nunjucks.Template(file.text, this.env, file.path, true);
      (template as unknown as MacroTemplate).getExported({}, (error, result) => {
        if (error) throw error;
        exported = result;
      });
    } catch (error) {
      throw templateError(error, file.path);
    }
    for (const [name, fn] of Object.entries(exported)) {
      if (typeof fn !== "function") continue;
      if (this.macroNames.has(name)) {
        throw new InputError(`macro "${name}" is defined twice`, { file: file.path });
      }
      this.macroNames.add(name);
      const wrapped = (...args: unknown[]) => {
        if (this.calls && !this.calls.macros.includes(name)) this.calls.macros.push(name);
        return (fn as (...a: unknown[]) => unknown)(...args);
      };
      this.env.addGlobal(name, wrapped);
    }
  }

  get macros(): string[] {
    return [...this.macroNames].sort();
  }
}

/**
 * A list that prints as Jinja prints a Python list (`['detail', 'add']`); nunjucks would print
 * `detail,add`, and `{{ var('a_list') }}` must not render differently from dbt.
 */
class PythonList extends Array<unknown> {
  override toString(): string {
    return `[${this.map(repr).join(", ")}]`;
  }
}

function repr(value: unknown): string {
  if (typeof value === "string")
    return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  return String(value);
}

function pythonic(value: unknown): unknown {
  if (!Array.isArray(value)) return value;
  const list = new PythonList();
  for (const item of value) list.push(pythonic(item));
  return list;
}

/** The environment's globals object (not in nunjucks' type declarations). */
function globalsOf(env: nunjucks.Environment): Record<string, unknown> {
  return (env as unknown as { globals: Record<string, unknown> }).globals;
}

/** Nunjucks passes keyword arguments as a last object marked `__keywords`. */
function positional(args: unknown[], fn: string): unknown[] {
  const last = args[args.length - 1];
  if (isKeywords(last)) {
    throw new Error(`unsupported construct: keyword arguments to ${fn}()`);
  }
  return args;
}

function keywords(args: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const arg of args) {
    if (isKeywords(arg)) {
      for (const [key, value] of Object.entries(arg)) if (key !== "__keywords") out[key] = value;
    } else if (arg && typeof arg === "object" && !Array.isArray(arg)) {
      Object.assign(out, arg);
    } else {
      throw new Error("config() takes keyword arguments, e.g. config(materialized='table')");
    }
  }
  return out;
}

function isKeywords(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && "__keywords" in value;
}

interface LexToken {
  type: string;
  value: string;
  lineno: number;
}

const lexer = (
  nunjucks as unknown as { lexer: { lex(src: string): { nextToken(): LexToken | null } } }
).lexer;

/** Refuses Jinja that nunjucks would parse but evaluate differently. */
function checkTokens(source: string, file: string): void {
  const tokens = lexer.lex(source);
  let token: LexToken | null;
  while ((token = tokens.nextToken())) {
    const line = token.lineno + 1;
    if (token.type === "operator" && token.value === "%") {
      throw new InputError(
        "unsupported construct: the % operator (Python string formatting in Jinja, modulo in nunjucks)",
        { file, line },
        "Concatenate with ~ instead.",
      );
    }
    if ((token.type === "symbol" || token.type === "string") && FORBIDDEN_NAMES.has(token.value)) {
      throw new InputError(
        `unsupported construct: ${token.value} (templates cannot reach JavaScript)`,
        { file, line },
        hint(),
      );
    }
    if (token.type === "symbol") {
      if (token.value === "return" || token.value === "run_query" || token.value === "statement") {
        throw new InputError(`unsupported construct: ${token.value}`, { file, line }, hint());
      }
      if (token.value === "dbt_utils" || token.value === "dbt") {
        throw new InputError(
          `unsupported construct: ${token.value}.* macros`,
          { file, line },
          hint(),
        );
      }
    }
  }
}

function hint(): string {
  return `The built-in runner supports ${SUPPORTED_JINJA}. Install dbt-core to use more (see dbt/README.md).`;
}

/** Turns a nunjucks error into an input error naming the file, the 1-based line and the construct. */
export function templateError(error: unknown, file: string): Error {
  if (error instanceof InputError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\((.*?)\)(?: \[Line (\d+)(?:, Column (\d+))?\])?\s*(Error: )?([\s\S]*)$/.exec(
    message,
  );
  // Nunjucks counts lines from 1 for parse errors and undefined output, but from 0 for errors
  // thrown while calling a function (those arrive prefixed "Error: ").
  const offset = match?.[4] ? 1 : 0;
  const line = match?.[2] === undefined ? undefined : Number(match[2]) + offset;
  const column = match?.[3] === undefined ? undefined : Number(match[3]);
  let detail = (match?.[5] ?? message).trim();
  // Name the construct in dbt's terms rather than nunjucks' internals.
  const unknownCall = /Unable to call `([^`]+)`, which is undefined or falsey/.exec(detail);
  if (unknownCall) detail = `unsupported construct: ${unknownCall[1]}() is not defined`;
  const unknownTag = /unknown block tag: (\S+)/.exec(detail);
  if (unknownTag) detail = `unsupported construct: {% ${unknownTag[1]} %}`;
  if (/attempted to output null or undefined value/.test(detail)) {
    detail =
      "undefined value rendered (an unknown variable, or one dbt defines and this runner does not)";
  }
  return new InputError(detail, { file: match?.[1] || file, line, column }, hint());
}
