/**
 * The YAML property files (`version: 2`): model and column docs, configs and data tests, and the
 * sources. Keys the runner would have to ignore are refused with their file and line.
 */
import { InputError } from "../../errors.ts";
import { GENERIC_TESTS, type GenericTestName } from "./generic-tests.ts";
import type { NodeConfig, PropertyFile } from "./project.ts";
import { SUPPORTED_CONFIG_KEYS, asRecord, unsupported } from "./project.ts";

export interface ColumnDoc {
  name: string;
  description: string;
  dataType?: string;
}

export interface TestSpec {
  test: GenericTestName;
  column?: string;
  kwargs: Record<string, unknown>;
  config: NodeConfig;
  file: PropertyFile;
  line?: number;
}

export interface ModelProperties {
  name: string;
  description: string;
  config: NodeConfig;
  columns: ColumnDoc[];
  tests: TestSpec[];
  file: PropertyFile;
}

export interface SourceTableProperties {
  sourceName: string;
  name: string;
  identifier: string;
  /** As written: may hold Jinja (`{{ target.schema }}`), rendered by the graph builder. */
  schema: string;
  database?: string;
  description: string;
  sourceDescription: string;
  loader: string;
  columns: ColumnDoc[];
  tests: TestSpec[];
  file: PropertyFile;
}

export interface Properties {
  models: Map<string, ModelProperties>;
  sources: SourceTableProperties[];
}

const TOP_KEYS = ["version", "models", "sources"];
const MODEL_KEYS = [
  "name",
  "description",
  "config",
  "columns",
  "data_tests",
  "tests",
  "meta",
  "docs",
];
const COLUMN_KEYS = ["name", "description", "data_type", "data_tests", "tests", "meta", "quote"];
const SOURCE_KEYS = ["name", "description", "schema", "database", "loader", "tables", "meta"];
const TABLE_KEYS = ["name", "description", "identifier", "columns", "data_tests", "tests", "meta"];
const TEST_ARG_KEYS: Record<GenericTestName, string[]> = {
  not_null: [],
  unique: [],
  accepted_values: ["values", "quote"],
  relationships: ["to", "field"],
};

export function readProperties(files: PropertyFile[]): Properties {
  const models = new Map<string, ModelProperties>();
  const sources: SourceTableProperties[] = [];
  for (const file of files) {
    const data = asRecord(file.data, file, []);
    onlyKeys(file, [], data, TOP_KEYS, "a top-level key");
    for (const [i, raw] of list(file, ["models"], data.models).entries()) {
      const at = ["models", i];
      const model = asRecord(raw, file, at);
      onlyKeys(file, at, model, MODEL_KEYS, "a model property");
      const name = String(model.name);
      if (models.has(name)) {
        throw new InputError(`model "${name}" is described twice`, {
          file: file.path,
          line: file.lineOf(at),
        });
      }
      const columns = columnsOf(file, at, model.columns);
      models.set(name, {
        name,
        description: String(model.description ?? ""),
        config: configOf(file, [...at, "config"], model.config),
        columns: columns.docs,
        tests: [...testsOf(file, at, model, undefined), ...columns.tests],
        file,
      });
    }
    for (const [i, raw] of list(file, ["sources"], data.sources).entries()) {
      const at = ["sources", i];
      const source = asRecord(raw, file, at);
      onlyKeys(file, at, source, SOURCE_KEYS, "a source property");
      const sourceName = String(source.name);
      for (const [j, rawTable] of list(file, [...at, "tables"], source.tables).entries()) {
        const tableAt = [...at, "tables", j];
        const table = asRecord(rawTable, file, tableAt);
        onlyKeys(file, tableAt, table, TABLE_KEYS, "a source table property");
        const columns = columnsOf(file, tableAt, table.columns);
        sources.push({
          sourceName,
          name: String(table.name),
          identifier: String(table.identifier ?? table.name),
          schema: String(source.schema ?? sourceName),
          ...(source.database === undefined ? {} : { database: String(source.database) }),
          description: String(table.description ?? ""),
          sourceDescription: String(source.description ?? ""),
          loader: String(source.loader ?? ""),
          columns: columns.docs,
          tests: [...testsOf(file, tableAt, table, undefined), ...columns.tests],
          file,
        });
      }
    }
  }
  return { models, sources };
}

function columnsOf(
  file: PropertyFile,
  at: (string | number)[],
  raw: unknown,
): { docs: ColumnDoc[]; tests: TestSpec[] } {
  const docs: ColumnDoc[] = [];
  const tests: TestSpec[] = [];
  for (const [i, item] of list(file, [...at, "columns"], raw).entries()) {
    const colAt = [...at, "columns", i];
    const column = asRecord(item, file, colAt);
    onlyKeys(file, colAt, column, COLUMN_KEYS, "a column property");
    const name = String(column.name);
    docs.push({
      name,
      description: String(column.description ?? ""),
      ...(column.data_type === undefined ? {} : { dataType: String(column.data_type) }),
    });
    tests.push(...testsOf(file, colAt, column, name));
  }
  return { docs, tests };
}

function testsOf(
  file: PropertyFile,
  at: (string | number)[],
  owner: Record<string, unknown>,
  column: string | undefined,
): TestSpec[] {
  const key = owner.data_tests !== undefined ? "data_tests" : "tests";
  return list(file, [...at, key], owner[key]).map((entry, i) => {
    const testAt = [...at, key, i];
    const line = file.lineOf(testAt);
    const [test, body] =
      typeof entry === "string"
        ? [entry, {}]
        : (Object.entries(asRecord(entry, file, testAt))[0] ?? ["", {}]);
    if (!(GENERIC_TESTS as readonly string[]).includes(test)) {
      throw unsupported(
        file,
        testAt,
        `the generic test "${test}"`,
        `the generic tests ${GENERIC_TESTS.join(", ")}, and singular tests in tests/`,
      );
    }
    const name = test as GenericTestName;
    const spec = body === null ? {} : asRecord(body, file, [...testAt, test]);
    // dbt 1.10 nests a test's arguments under `arguments:`; older projects put them beside config.
    const { arguments: nested, config, ...flat } = spec;
    const kwargs = nested === undefined ? flat : asRecord(nested, file, [...testAt, test]);
    if (nested !== undefined && Object.keys(flat).length > 0) {
      throw unsupported(
        file,
        testAt,
        `the test key "${Object.keys(flat)[0]}"`,
        "arguments: and config: under a test",
      );
    }
    for (const arg of Object.keys(kwargs)) {
      if (!TEST_ARG_KEYS[name].includes(arg)) {
        throw unsupported(
          file,
          testAt,
          `the argument "${arg}" of ${name}`,
          `${name} arguments: ${TEST_ARG_KEYS[name].join(", ") || "none"}`,
        );
      }
    }
    if (name !== "not_null" && name !== "unique" && column === undefined) {
      throw new InputError(`${name} is a column test: put it under a column`, {
        file: file.path,
        line,
      });
    }
    return {
      test: name,
      ...(column === undefined ? {} : { column }),
      kwargs,
      config: configOf(file, [...testAt, test, "config"], config),
      file,
      ...(line === undefined ? {} : { line }),
    };
  });
}

function configOf(file: PropertyFile, at: (string | number)[], raw: unknown): NodeConfig {
  if (raw === undefined || raw === null) return {};
  const config = asRecord(raw, file, at);
  for (const key of Object.keys(config)) {
    if (!SUPPORTED_CONFIG_KEYS.has(key as keyof NodeConfig)) {
      throw unsupported(
        file,
        [...at, key],
        `the config "${key}"`,
        `configs ${[...SUPPORTED_CONFIG_KEYS].join(", ")}`,
      );
    }
  }
  return config as NodeConfig;
}

function list(file: PropertyFile, at: (string | number)[], raw: unknown): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    throw new InputError(`${at.join(".")} must be a list`, {
      file: file.path,
      line: file.lineOf(at),
    });
  }
  return raw;
}

function onlyKeys(
  file: PropertyFile,
  at: (string | number)[],
  data: Record<string, unknown>,
  keys: string[],
  what: string,
): void {
  for (const key of Object.keys(data)) {
    if (!keys.includes(key)) {
      throw unsupported(file, [...at, key], `${what} "${key}"`, keys.join(", "));
    }
  }
}
