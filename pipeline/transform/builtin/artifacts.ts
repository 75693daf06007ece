/**
 * target/manifest.json and target/run_results.json in dbt's own schemas (manifest v12,
 * run-results v6): the subset the rest of the product reads, with every field dbt's schema
 * requires of the objects written, so tools that read dbt artifacts read these too.
 */
import { createHash, randomUUID } from "node:crypto";
import type { NodeRun } from "./build.ts";
import type { DbtGraph, ModelNode, SourceNode, TestNode } from "./graph.ts";
import type { ColumnDoc } from "./properties.ts";

export const MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json";
export const RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json";
/** The dbt-core version whose behaviour the built-in runner follows. */
export const DBT_VERSION = "1.10.0";

export interface ArtifactContext {
  invocationId: string;
  generatedAt: string;
  vars: Record<string, unknown>;
  selectors: string[];
}

export function newArtifactContext(
  vars: Record<string, unknown>,
  selectors: string[],
): ArtifactContext {
  return { invocationId: randomUUID(), generatedAt: new Date().toISOString(), vars, selectors };
}

function checksum(text: string): { name: string; checksum: string } {
  return { name: "sha256", checksum: createHash("sha256").update(text).digest("hex") };
}

function columns(docs: ColumnDoc[]): Record<string, unknown> {
  return Object.fromEntries(
    docs.map((c) => [
      c.name,
      {
        name: c.name,
        description: c.description,
        meta: {},
        data_type: c.dataType ?? null,
        constraints: [],
        quote: null,
        tags: [],
      },
    ]),
  );
}

function modelNode(graph: DbtGraph, model: ModelNode): Record<string, unknown> {
  return {
    database: graph.target.database,
    schema: model.schema,
    name: model.name,
    resource_type: "model",
    package_name: graph.project.name,
    path: model.file.path.split("/").slice(1).join("/"),
    original_file_path: model.file.path,
    unique_id: model.uniqueId,
    fqn: model.fqn,
    alias: model.alias,
    checksum: checksum(model.file.text),
    config: {
      enabled: model.config.enabled,
      alias: model.config.alias ?? null,
      schema: model.config.schema ?? null,
      database: null,
      tags: model.config.tags,
      meta: {},
      materialized: model.config.materialized,
      incremental_strategy: model.config.incremental_strategy ?? null,
      unique_key: model.config.unique_key ?? null,
      on_schema_change: "ignore",
      persist_docs: {},
      "post-hook": [],
      "pre-hook": [],
      quoting: {},
      column_types: {},
      full_refresh: null,
      access: "protected",
    },
    tags: model.config.tags,
    description: model.description,
    columns: columns(model.columns),
    ...compiledNodeDefaults(),
    relation_name: model.relation,
    raw_code: model.file.text,
    refs: model.refs.map((name) => ({ name, package: null, version: null })),
    sources: model.sources,
    depends_on: {
      macros: model.macros.map((m) => `macro.${graph.project.name}.${m}`),
      nodes: model.dependsOn,
    },
    compiled_path: `target/compiled/${graph.project.name}/${model.file.path}`,
    compiled_code: model.compiledSql,
    access: "protected",
    constraints: [],
    version: null,
    latest_version: null,
    deprecation_date: null,
  };
}

/** The fields dbt's schema requires of every compiled SQL node that this runner never varies. */
function compiledNodeDefaults(): Record<string, unknown> {
  return {
    meta: {},
    docs: { show: true, node_color: null },
    patch_path: null,
    build_path: null,
    unrendered_config: {},
    created_at: Date.now() / 1000,
    language: "sql",
    metrics: [],
    compiled: true,
    extra_ctes_injected: true,
    extra_ctes: [],
    contract: { enforced: false, alias_types: true, checksum: null },
  };
}

function testNode(graph: DbtGraph, test: TestNode): Record<string, unknown> {
  return {
    database: graph.target.database,
    schema: `${graph.target.schema}_dbt_test__audit`,
    name: test.name,
    resource_type: "test",
    package_name: graph.project.name,
    path: test.kind === "singular" ? test.path.split("/").slice(1).join("/") : test.path,
    original_file_path: test.path,
    unique_id: test.uniqueId,
    fqn: test.fqn,
    alias: test.name,
    checksum: checksum(test.rawCode),
    config: {
      enabled: true,
      alias: null,
      schema: "dbt_test__audit",
      database: null,
      tags: test.tags,
      meta: {},
      materialized: "test",
      severity: test.severity === "warn" ? "WARN" : "ERROR",
      store_failures: null,
      where: null,
      limit: null,
      fail_calc: "count(*)",
      warn_if: "!= 0",
      error_if: "!= 0",
    },
    tags: test.tags,
    description: "",
    columns: {},
    ...compiledNodeDefaults(),
    relation_name: null,
    raw_code: test.rawCode,
    refs: test.refs.map((name) => ({ name, package: null, version: null })),
    sources: test.sources,
    depends_on: { macros: test.macros, nodes: test.dependsOn },
    compiled_path: `target/compiled/${graph.project.name}/${test.path}`,
    compiled_code: test.compiledSql,
    ...(test.testMetadata
      ? {
          column_name: test.columnName ?? null,
          file_key_name: fileKeyName(graph, test.attachedNode),
          attached_node: test.attachedNode ?? null,
          test_metadata: {
            name: test.testMetadata.name,
            kwargs: test.testMetadata.kwargs,
            namespace: null,
          },
        }
      : {}),
  };
}

/** Where a generic test was declared: `models.<model>` or `sources.<source>`, as dbt writes it. */
function fileKeyName(graph: DbtGraph, attached: string | undefined): string {
  const source = graph.sources.find((s) => s.uniqueId === attached);
  if (source) return `sources.${source.sourceName}`;
  return `models.${graph.models.find((m) => m.uniqueId === attached)?.name ?? ""}`;
}

function sourceNode(graph: DbtGraph, source: SourceNode): Record<string, unknown> {
  return {
    database: source.database,
    schema: source.schema,
    name: source.name,
    resource_type: "source",
    package_name: graph.project.name,
    path: source.path,
    original_file_path: source.path,
    unique_id: source.uniqueId,
    fqn: [graph.project.name, source.sourceName, source.name],
    source_name: source.sourceName,
    source_description: source.sourceDescription,
    loader: source.loader,
    identifier: source.identifier,
    quoting: { database: null, schema: null, identifier: null, column: null },
    loaded_at_field: null,
    freshness: {
      warn_after: { count: null, period: null },
      error_after: { count: null, period: null },
      filter: null,
    },
    external: null,
    description: source.description,
    columns: columns(source.columns),
    meta: {},
    source_meta: {},
    tags: [],
    config: { enabled: true },
    patch_path: null,
    unrendered_config: {},
    relation_name: source.relation,
    created_at: Date.now() / 1000,
  };
}

export function manifest(graph: DbtGraph, context: ArtifactContext): Record<string, unknown> {
  const nodes: Record<string, unknown> = {};
  for (const model of graph.models) nodes[model.uniqueId] = modelNode(graph, model);
  for (const test of graph.tests) nodes[test.uniqueId] = testNode(graph, test);
  const parentMap: Record<string, string[]> = {};
  const childMap: Record<string, string[]> = {};
  for (const source of graph.sources) childMap[source.uniqueId] = [];
  for (const node of [...graph.models, ...graph.tests]) {
    parentMap[node.uniqueId] = [...node.dependsOn].sort();
    childMap[node.uniqueId] ??= [];
    for (const parent of node.dependsOn) (childMap[parent] ??= []).push(node.uniqueId);
  }
  for (const list of Object.values(childMap)) list.sort();
  const macros: Record<string, unknown> = {};
  for (const name of graph.renderer.macros) {
    const id = `macro.${graph.project.name}.${name}`;
    const file = graph.project.macroFiles.find((f) =>
      new RegExp(`{%-?\\s*macro\\s+${name}\\s*\\(`).test(f.text),
    );
    macros[id] = {
      name,
      resource_type: "macro",
      package_name: graph.project.name,
      path: file?.path ?? "",
      original_file_path: file?.path ?? "",
      unique_id: id,
      macro_sql: file?.text ?? "",
      depends_on: { macros: [] },
      description: "",
      meta: {},
      docs: { show: true, node_color: null },
      patch_path: null,
      arguments: [],
      created_at: Date.now() / 1000,
      supported_languages: null,
    };
  }
  return {
    metadata: {
      dbt_schema_version: MANIFEST_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: context.generatedAt,
      invocation_id: context.invocationId,
      env: {},
      project_name: graph.project.name,
      project_id: createHash("md5").update(graph.project.name).digest("hex"),
      user_id: null,
      send_anonymous_usage_stats: false,
      adapter_type: graph.target.type,
    },
    nodes,
    sources: Object.fromEntries(graph.sources.map((s) => [s.uniqueId, sourceNode(graph, s)])),
    macros,
    docs: {},
    exposures: {},
    metrics: {},
    groups: {},
    selectors: {},
    disabled: {},
    parent_map: parentMap,
    child_map: childMap,
    group_map: {},
    saved_queries: {},
    semantic_models: {},
    unit_tests: {},
  };
}

export function runResults(
  runs: NodeRun[],
  context: ArtifactContext,
  elapsedSeconds: number,
): Record<string, unknown> {
  return {
    metadata: {
      dbt_schema_version: RUN_RESULTS_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: new Date().toISOString(),
      invocation_id: context.invocationId,
      env: {},
    },
    results: runs.map((run) => ({
      status: run.status,
      timing: run.timing,
      thread_id: "Thread-1",
      execution_time: run.executionTime,
      adapter_response: run.rows === null ? {} : { _message: run.message, rows_affected: run.rows },
      message: run.message,
      failures: run.failures,
      unique_id: run.uniqueId,
      compiled: true,
      compiled_code: run.compiledSql,
      relation_name: run.relation,
      batch_results: null,
    })),
    elapsed_time: elapsedSeconds,
    args: {
      which: "build",
      vars: context.vars,
      select: context.selectors,
      invocation_command: `dbt build${context.selectors.length ? ` --select ${context.selectors.join(" ")}` : ""}`,
    },
  };
}
