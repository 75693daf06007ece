/**
 * The project's graph as dbt parses it: models (configs merged from dbt_project.yml, property
 * files and `config()`), sources, generic and singular tests, each with the nodes it depends on
 * and its compiled SQL. Models are rendered twice, as dbt does: once to learn every node's
 * config (so a `ref` can name the relation a custom schema or alias gives), then to compile.
 */
import { createHash } from "node:crypto";
import { InputError } from "../../errors.ts";
import { genericTestName, genericTestSql, type GenericTestName } from "./generic-tests.ts";
import { relationName, type JinjaRenderer, type Rendered, type TargetInfo } from "./jinja.ts";
import {
  SUPPORTED_CONFIG_KEYS,
  unsupported,
  type DbtProject,
  type ModelFile,
  type NodeConfig,
} from "./project.ts";
import { readProperties, type ColumnDoc, type TestSpec } from "./properties.ts";

export const MATERIALIZATIONS = ["view", "table", "incremental"] as const;
export type Materialization = (typeof MATERIALIZATIONS)[number];

export interface ModelNode {
  resourceType: "model";
  uniqueId: string;
  name: string;
  file: ModelFile;
  fqn: string[];
  config: NodeConfig & { materialized: Materialization; tags: string[]; enabled: boolean };
  schema: string;
  alias: string;
  relation: string;
  description: string;
  columns: ColumnDoc[];
  refs: string[];
  sources: [string, string][];
  macros: string[];
  dependsOn: string[];
  compiledSql: string;
}

export interface SourceNode {
  resourceType: "source";
  uniqueId: string;
  sourceName: string;
  name: string;
  identifier: string;
  schema: string;
  database: string;
  relation: string;
  description: string;
  sourceDescription: string;
  loader: string;
  columns: ColumnDoc[];
  path: string;
}

export interface TestNode {
  resourceType: "test";
  uniqueId: string;
  name: string;
  kind: "generic" | "singular";
  path: string;
  fqn: string[];
  rawCode: string;
  compiledSql: string;
  severity: "error" | "warn";
  tags: string[];
  dependsOn: string[];
  macros: string[];
  refs: string[];
  sources: [string, string][];
  /** Generic tests: what dbt's `test_metadata` holds, and the node and column tested. */
  testMetadata?: { name: GenericTestName; kwargs: Record<string, unknown> };
  attachedNode?: string;
  columnName?: string;
}

export interface DbtGraph {
  project: DbtProject;
  target: TargetInfo;
  renderer: JinjaRenderer;
  models: ModelNode[];
  sources: SourceNode[];
  tests: TestNode[];
  /** Renders a model again, e.g. with is_incremental() true when its table exists. */
  compile(model: ModelNode, isIncremental: boolean): string;
}

export function buildGraph(project: DbtProject, renderer: JinjaRenderer): DbtGraph {
  const { target } = renderer;
  const properties = readProperties(project.propertyFiles);
  for (const name of properties.models.keys()) {
    if (!project.models.some((m) => m.name === name)) {
      const props = properties.models.get(name);
      throw new InputError(`properties describe a model "${name}" that has no .sql file`, {
        file: props?.file.path,
        line: props?.file.lineOf(["models"]),
      });
    }
  }

  const sources: SourceNode[] = properties.sources.map((table) => {
    const render = (text: string) =>
      renderer.render(text, {
        file: table.file.path,
        ref: () => {
          throw new Error("ref() is not allowed in a source's properties");
        },
        source: () => {
          throw new Error("source() is not allowed in a source's properties");
        },
        isIncremental: false,
      }).sql;
    const schema = render(table.schema);
    const database = table.database === undefined ? target.database : render(table.database);
    return {
      resourceType: "source",
      uniqueId: `source.${project.name}.${table.sourceName}.${table.name}`,
      sourceName: table.sourceName,
      name: table.name,
      identifier: table.identifier,
      schema,
      database,
      relation: relationName(target, schema, table.identifier),
      description: table.description,
      sourceDescription: table.sourceDescription,
      loader: table.loader,
      columns: table.columns,
      path: table.file.path,
    };
  });
  const sourceOf = (sourceName: string, table: string) => {
    const found = sources.find((s) => s.sourceName === sourceName && s.name === table);
    if (!found) {
      throw new Error(`source('${sourceName}', '${table}') is not declared in a sources: block`);
    }
    return found.relation;
  };

  // Pass 1: every model's config, from dbt_project.yml < properties < config() in the file.
  const configs = new Map<string, ModelNode["config"]>();
  for (const file of project.models) {
    const first = renderer.render(file.text, {
      file: file.path,
      ref: (name) => `__ref_${name}__`,
      thisRelation: `__this_${file.name}__`,
      source: sourceOf,
      isIncremental: false,
    });
    const config = mergeConfig(
      folderConfig(project, file),
      properties.models.get(file.name)?.config ?? {},
      first.config,
    );
    if (!(MATERIALIZATIONS as readonly string[]).includes(config.materialized ?? "view")) {
      throw unsupported(
        { path: file.path, lineOf: () => lineOfText(file.text, "materialized") },
        [],
        `materialized='${config.materialized}'`,
        `the materializations ${MATERIALIZATIONS.join(", ")}`,
      );
    }
    configs.set(file.name, {
      ...config,
      materialized: (config.materialized ?? "view") as Materialization,
      tags: toList(config.tags),
      enabled: config.enabled ?? true,
    });
  }
  const enabled = project.models.filter((file) => configs.get(file.name)?.enabled);
  const relations = new Map<string, { schema: string; alias: string; relation: string }>();
  for (const file of enabled) {
    const config = configs.get(file.name) as ModelNode["config"];
    // dbt's default generate_schema_name: a custom schema is appended to the target's.
    const schema = config.schema ? `${target.schema}_${config.schema}` : target.schema;
    const alias = config.alias ?? file.name;
    relations.set(file.name, { schema, alias, relation: relationName(target, schema, alias) });
  }
  const refOf = (name: string): string => {
    const found = relations.get(name);
    if (!found) throw new Error(`ref('${name}') names no enabled model of the project`);
    return found.relation;
  };

  // Pass 2: compile with the real relations.
  const models: ModelNode[] = enabled.map((file) => {
    const rendered = renderer.render(file.text, {
      file: file.path,
      ref: refOf,
      source: sourceOf,
      thisRelation: refOf(file.name),
      isIncremental: false,
    });
    const where = relations.get(file.name) as { schema: string; alias: string; relation: string };
    const props = properties.models.get(file.name);
    return {
      resourceType: "model",
      uniqueId: `model.${project.name}.${file.name}`,
      name: file.name,
      file,
      fqn: [project.name, ...file.folders, file.name],
      config: configs.get(file.name) as ModelNode["config"],
      ...where,
      description: props?.description ?? "",
      columns: props?.columns ?? [],
      refs: rendered.refs,
      sources: rendered.sources,
      macros: rendered.macros,
      dependsOn: dependsOn(project.name, rendered),
      compiledSql: rendered.sql,
    };
  });
  checkAcyclic(models);

  const tests: TestNode[] = [];
  for (const props of properties.models.values()) {
    const model = models.find((m) => m.name === props.name);
    if (!model) continue;
    for (const spec of props.tests)
      tests.push(genericTest(project.name, renderer, spec, model, refOf, sourceOf));
  }
  for (const table of properties.sources) {
    const source = sources.find((s) => s.sourceName === table.sourceName && s.name === table.name);
    if (!source) continue;
    for (const spec of table.tests)
      tests.push(genericTest(project.name, renderer, spec, source, refOf, sourceOf));
  }
  for (const file of project.singularTests) {
    const rendered = renderer.render(file.text, {
      file: file.path,
      ref: refOf,
      source: sourceOf,
      isIncremental: false,
    });
    const config = mergeConfig({}, {}, rendered.config);
    tests.push({
      resourceType: "test",
      uniqueId: `test.${project.name}.${file.name}`,
      name: file.name,
      kind: "singular",
      path: file.path,
      fqn: [project.name, ...file.folders, file.name],
      rawCode: file.text,
      compiledSql: rendered.sql,
      severity: severityOf(config.severity, file.path),
      tags: toList(config.tags),
      dependsOn: dependsOn(project.name, rendered),
      macros: rendered.macros,
      refs: rendered.refs,
      sources: rendered.sources,
    });
  }
  checkUniqueIds(tests);
  const compile = (model: ModelNode, isIncremental: boolean) =>
    renderer.render(model.file.text, {
      file: model.file.path,
      ref: refOf,
      source: sourceOf,
      thisRelation: model.relation,
      isIncremental,
    }).sql;
  return { project, target, renderer, models, sources, tests, compile };
}

function genericTest(
  projectName: string,
  renderer: JinjaRenderer,
  spec: TestSpec,
  node: ModelNode | SourceNode,
  refOf: (name: string) => string,
  sourceOf: (sourceName: string, table: string) => string,
): TestNode {
  const calls: Rendered = { sql: "", refs: [], sources: [], config: {}, macros: [] };
  if (node.resourceType === "model") calls.refs.push(node.name);
  else calls.sources.push([node.sourceName, node.name]);
  let to: string | undefined;
  if (spec.test === "relationships") {
    // `to:` is Jinja, ref('parent') or source('s', 't'), rendered like any node.
    const rendered = renderer.render(`{{ ${String(spec.kwargs.to)} }}`, {
      file: spec.file.path,
      ref: refOf,
      source: sourceOf,
      isIncremental: false,
    });
    to = rendered.sql;
    calls.refs.push(...rendered.refs.filter((r) => !calls.refs.includes(r)));
    calls.sources.push(...rendered.sources);
  }
  const kwargs: Record<string, unknown> = {
    ...spec.kwargs,
    ...(spec.column === undefined ? {} : { column_name: spec.column }),
    model: `{{ get_where_subquery(${node.resourceType === "model" ? `ref('${node.name}')` : `source('${node.sourceName}', '${node.name}')`}) }}`,
  };
  const modelName =
    node.resourceType === "model" ? node.name : `source_${node.sourceName}_${node.name}`;
  const name = genericTestName(spec.test, modelName, spec.column ?? "", spec.kwargs);
  const sql = genericTestSql(spec.test, {
    model: node.relation,
    ...(spec.column === undefined ? {} : { column_name: spec.column }),
    ...(Array.isArray(spec.kwargs.values) ? { values: spec.kwargs.values } : {}),
    ...(typeof spec.kwargs.quote === "boolean" ? { quote: spec.kwargs.quote } : {}),
    ...(to === undefined ? {} : { to }),
    ...(spec.kwargs.field === undefined ? {} : { field: String(spec.kwargs.field) }),
  });
  const hash = createHash("sha256")
    .update(`${name}:${JSON.stringify(kwargs)}`)
    .digest("hex");
  return {
    resourceType: "test",
    uniqueId: `test.${projectName}.${name}.${hash.slice(0, 10)}`,
    name,
    kind: "generic",
    path: `${name}.sql`,
    fqn: [projectName, ...spec.file.path.split("/").slice(1, -1), name],
    rawCode: `{{ test_${spec.test}(**_dbt_generic_test_kwargs) }}`,
    compiledSql: sql,
    severity: severityOf(spec.config.severity, spec.file.path, spec.line),
    tags: toList(spec.config.tags),
    dependsOn: dependsOn(projectName, calls),
    macros: [`macro.dbt.test_${spec.test}`],
    refs: calls.refs,
    sources: calls.sources,
    testMetadata: { name: spec.test, kwargs },
    attachedNode: node.uniqueId,
    ...(spec.column === undefined ? {} : { columnName: spec.column }),
  };
}

function severityOf(value: unknown, file: string, line?: number): "error" | "warn" {
  const severity = String(value ?? "error").toLowerCase();
  if (severity !== "error" && severity !== "warn") {
    throw new InputError(`severity must be error or warn, got "${String(value)}"`, { file, line });
  }
  return severity;
}

function dependsOn(projectName: string, rendered: Omit<Rendered, "sql">): string[] {
  return [
    ...rendered.refs.map((name) => `model.${projectName}.${name}`),
    ...rendered.sources.map(([s, t]) => `source.${projectName}.${s}.${t}`),
  ];
}

/** `+key: value` (or a bare config key) under the model's folders in dbt_project.yml. */
function folderConfig(project: DbtProject, file: ModelFile): NodeConfig {
  const out: Record<string, unknown> = {};
  let level: unknown = project.folderConfig;
  const apply = (section: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(section)) {
      const name = key.startsWith("+") ? key.slice(1) : key;
      const isConfig = key.startsWith("+") || SUPPORTED_CONFIG_KEYS.has(name as keyof NodeConfig);
      if (!isConfig) continue;
      if (!SUPPORTED_CONFIG_KEYS.has(name as keyof NodeConfig)) {
        throw new InputError(
          `the config "${key}" under models: is outside what the built-in dbt runner supports`,
          { file: "dbt_project.yml" },
          `Supported configs: ${[...SUPPORTED_CONFIG_KEYS].join(", ")}.`,
        );
      }
      out[name] = value;
    }
  };
  if (level && typeof level === "object") apply(level as Record<string, unknown>);
  for (const folder of file.folders) {
    level = (level as Record<string, unknown> | undefined)?.[folder];
    if (!level || typeof level !== "object") break;
    apply(level as Record<string, unknown>);
  }
  return out as NodeConfig;
}

/** Later configs win; tags add up, as in dbt. */
function mergeConfig(...configs: NodeConfig[]): NodeConfig {
  const merged: NodeConfig = {};
  const tags: string[] = [];
  for (const config of configs) {
    Object.assign(merged, config);
    for (const tag of toList(config.tags)) if (!tags.includes(tag)) tags.push(tag);
  }
  merged.tags = tags;
  return merged;
}

function toList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function lineOfText(text: string, needle: string): number | undefined {
  const index = text.indexOf(needle);
  return index < 0 ? undefined : text.slice(0, index).split("\n").length;
}

function checkAcyclic(models: ModelNode[]): void {
  const byId = new Map(models.map((m) => [m.uniqueId, m]));
  const state = new Map<string, "visiting" | "done">();
  const visit = (model: ModelNode, path: string[]) => {
    if (state.get(model.uniqueId) === "done") return;
    if (state.get(model.uniqueId) === "visiting") {
      throw new InputError(`the models' refs form a cycle: ${[...path, model.name].join(" → ")}`, {
        file: model.file.path,
      });
    }
    state.set(model.uniqueId, "visiting");
    for (const parent of model.dependsOn) {
      const node = byId.get(parent);
      if (node) visit(node, [...path, model.name]);
    }
    state.set(model.uniqueId, "done");
  };
  for (const model of models) visit(model, []);
}

function checkUniqueIds(tests: TestNode[]): void {
  const seen = new Set<string>();
  for (const test of tests) {
    if (seen.has(test.uniqueId)) {
      throw new InputError(`two tests would both be named ${test.name}`, { file: test.path });
    }
    seen.add(test.uniqueId);
  }
}

/** Models in build order: parents first, ties by name so every run builds in the same order. */
export function buildOrder(models: ModelNode[]): ModelNode[] {
  const byId = new Map(models.map((m) => [m.uniqueId, m]));
  const done = new Set<string>();
  const order: ModelNode[] = [];
  const remaining = [...models].sort((a, b) => a.name.localeCompare(b.name));
  while (remaining.length > 0) {
    const index = remaining.findIndex((m) =>
      m.dependsOn.every((id) => !byId.has(id) || done.has(id)),
    );
    const next = remaining.splice(index, 1)[0] as ModelNode;
    done.add(next.uniqueId);
    order.push(next);
  }
  return order;
}
