/**
 * `dbt build` on DuckDB: models in dependency order, each model's tests as soon as every node
 * they read is built, and a failing (error-severity) test or model skips everything downstream,
 * as dbt does. Statuses, timings and failure counts use dbt's run_results vocabulary.
 */
import type { Warehouse } from "../../warehouse/warehouse.ts";
import { buildOrder, type DbtGraph, type ModelNode, type TestNode } from "./graph.ts";
import { descendants, type Selection } from "./selection.ts";

export type ModelStatus = "success" | "error" | "skipped";
export type TestStatus = "pass" | "fail" | "warn" | "error" | "skipped";

export interface Timing {
  name: "compile" | "execute";
  started_at: string;
  completed_at: string;
}

export interface NodeRun {
  uniqueId: string;
  resourceType: "model" | "test";
  status: ModelStatus | TestStatus;
  message: string;
  /** Tests: the number of failing rows. */
  failures: number | null;
  /** Models: rows in the relation after the build. */
  rows: number | null;
  compiledSql: string;
  relation: string | null;
  timing: Timing[];
  executionTime: number;
}

export interface BuildOptions {
  /** Rebuild incremental models from scratch (dbt's --full-refresh). */
  fullRefresh?: boolean;
  onNode?: (run: NodeRun, index: number, total: number) => void;
}

export async function buildProject(
  graph: DbtGraph,
  warehouse: Warehouse,
  selection: Selection,
  options: BuildOptions = {},
): Promise<NodeRun[]> {
  const models = buildOrder(graph.models).filter((m) => selection.models.has(m.uniqueId));
  const tests = graph.tests.filter((t) => selection.tests.has(t.uniqueId));
  const total = models.length + tests.length;
  const runs: NodeRun[] = [];
  const finished = new Map<string, NodeRun["status"]>();
  const skipped = new Set<string>();
  const pending = [...tests];
  const record = (run: NodeRun) => {
    runs.push(run);
    finished.set(run.uniqueId, run.status);
    options.onNode?.(run, runs.length, total);
  };
  // A node not selected is read as it stands in the warehouse (dbt's behaviour with --select).
  const ready = (test: TestNode) =>
    test.dependsOn.every((id) => !selection.models.has(id) || finished.has(id));
  const runReadyTests = async () => {
    for (const test of pending.filter(ready)) {
      pending.splice(pending.indexOf(test), 1);
      const blocked = test.dependsOn.some(
        (id) => finished.get(id) && finished.get(id) !== "success",
      );
      const missing = blocked ? undefined : await missingParent(graph, warehouse, selection, test);
      const run = blocked
        ? skip(test, "a node it tests did not build")
        : missing
          ? skip(test, `${missing} is not selected and does not exist yet`)
          : await runTest(warehouse, test);
      record(run);
      if (run.status === "fail" || run.status === "error") {
        for (const id of descendants(graph, test.dependsOn)) skipped.add(id);
      }
    }
  };

  await runReadyTests();
  for (const model of models) {
    if (skipped.has(model.uniqueId)) {
      record(skip(model, "an upstream node failed"));
    } else {
      const run = await runModel(graph, warehouse, model, options.fullRefresh ?? false);
      record(run);
      if (run.status === "error") {
        for (const id of descendants(graph, [model.uniqueId])) skipped.add(id);
      }
    }
    await runReadyTests();
  }
  for (const test of pending) record(skip(test, "a node it tests did not build"));
  return runs;
}

/**
 * dbt's eager selection runs a test when any node it reads is selected, reading the others as
 * they stand; one that was never built would only make the test error, so the test is skipped.
 */
async function missingParent(
  graph: DbtGraph,
  warehouse: Warehouse,
  selection: Selection,
  test: TestNode,
): Promise<string | undefined> {
  for (const id of test.dependsOn) {
    if (selection.models.has(id)) continue;
    const model = graph.models.find((m) => m.uniqueId === id);
    if (model && !(await relationKind(warehouse, model))) return model.name;
  }
  return undefined;
}

function skip(node: ModelNode | TestNode, message: string): NodeRun {
  return {
    uniqueId: node.uniqueId,
    resourceType: node.resourceType,
    status: "skipped",
    message: `SKIP: ${message}`,
    failures: null,
    rows: null,
    compiledSql: node.compiledSql,
    relation: node.resourceType === "model" ? node.relation : null,
    timing: [],
    executionTime: 0,
  };
}

async function runModel(
  graph: DbtGraph,
  warehouse: Warehouse,
  model: ModelNode,
  fullRefresh: boolean,
): Promise<NodeRun> {
  const compileStart = new Date();
  let sql = model.compiledSql;
  let message = "";
  let executeStart = compileStart;
  try {
    await warehouse.query(`create schema if not exists "${model.schema.replaceAll('"', '""')}"`);
    const existing = await relationKind(warehouse, model);
    const incremental =
      model.config.materialized === "incremental" && existing === "table" && !fullRefresh;
    if (incremental) {
      // Re-rendered with is_incremental() true: the model selects only what is new.
      sql = graph.compile(model, true);
    }
    executeStart = new Date();
    message = incremental
      ? await mergeIncremental(warehouse, model, sql)
      : await replaceRelation(warehouse, model, sql, existing);
    const counted = await warehouse.query(`select count(*) as n from ${model.relation}`);
    const rows = Number(counted[0]?.n ?? 0);
    return finish(model, "success", message, null, rows, sql, compileStart, executeStart);
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return finish(
      model,
      "error",
      `${model.file.path}: ${text}`,
      null,
      null,
      sql,
      compileStart,
      executeStart,
    );
  }
}

type RelationKind = "table" | "view" | undefined;

async function relationKind(warehouse: Warehouse, model: ModelNode): Promise<RelationKind> {
  const rows = await warehouse.query(
    "select table_type from information_schema.tables where table_schema = $1 and table_name = $2",
    [model.schema, model.alias],
  );
  const type = rows[0]?.table_type;
  if (type === undefined) return undefined;
  return type === "VIEW" ? "view" : "table";
}

/** The model's SQL as a subquery: a trailing `;` or `-- comment` must not swallow the bracket. */
function body(sql: string): string {
  return `(\n${sql.trim().replace(/;\s*$/, "")}\n)`;
}

async function replaceRelation(
  warehouse: Warehouse,
  model: ModelNode,
  sql: string,
  existing: RelationKind,
): Promise<string> {
  const kind = model.config.materialized === "view" ? "view" : "table";
  // One transaction: readers never see the relation missing, and a failing query keeps the old one.
  await warehouse.query("begin transaction");
  try {
    if (existing && existing !== kind) {
      await warehouse.query(`drop ${existing} if exists ${model.relation}`);
    }
    await warehouse.query(`create or replace ${kind} ${model.relation} as ${body(sql)}`);
    await warehouse.query("commit");
  } catch (error) {
    await warehouse.query("rollback").catch(() => undefined);
    throw error;
  }
  return kind === "view" ? "OK created view" : "OK created table";
}

async function mergeIncremental(
  warehouse: Warehouse,
  model: ModelNode,
  sql: string,
): Promise<string> {
  const strategy =
    model.config.incremental_strategy ?? (model.config.unique_key ? "delete+insert" : "append");
  if (strategy !== "append" && strategy !== "delete+insert") {
    throw new Error(
      `incremental_strategy '${strategy}' is outside what the built-in runner supports (append, delete+insert)`,
    );
  }
  const keys = model.config.unique_key === undefined ? [] : [model.config.unique_key].flat();
  if (strategy === "delete+insert" && keys.length === 0) {
    throw new Error("incremental_strategy 'delete+insert' needs a unique_key");
  }
  const staging = `"${model.alias.replaceAll('"', '""')}__dbt_tmp"`;
  await warehouse.query("begin transaction");
  try {
    await warehouse.query(`create or replace temporary table ${staging} as ${body(sql)}`);
    if (strategy === "delete+insert") {
      const tuple = keys.map((k) => `"${k}"`).join(", ");
      await warehouse.query(
        `delete from ${model.relation} where (${tuple}) in (select ${tuple} from ${staging})`,
      );
    }
    const inserted = await warehouse.query(
      `insert into ${model.relation} by name select * from ${staging}`,
    );
    await warehouse.query(`drop table ${staging}`);
    await warehouse.query("commit");
    return `OK inserted ${Number(inserted[0]?.Count ?? 0)}`;
  } catch (error) {
    await warehouse.query("rollback").catch(() => undefined);
    throw error;
  }
}

async function runTest(warehouse: Warehouse, test: TestNode): Promise<NodeRun> {
  const start = new Date();
  try {
    const counted = await warehouse.query(
      `select count(*) as failures from ${body(test.compiledSql)} as dbt_internal_test`,
    );
    const failures = Number(counted[0]?.failures ?? 0);
    if (failures === 0)
      return finish(test, "pass", "PASS", 0, null, test.compiledSql, start, start);
    const status = test.severity === "warn" ? "warn" : "fail";
    return finish(
      test,
      status,
      `Got ${failures} result${failures === 1 ? "" : "s"}, configured to ${status === "warn" ? "warn" : "fail"} if != 0`,
      failures,
      null,
      test.compiledSql,
      start,
      start,
    );
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    return finish(
      test,
      "error",
      `${test.path}: ${text}`,
      null,
      null,
      test.compiledSql,
      start,
      start,
    );
  }
}

function finish(
  node: ModelNode | TestNode,
  status: NodeRun["status"],
  message: string,
  failures: number | null,
  rows: number | null,
  sql: string,
  compileStart: Date,
  executeStart: Date,
): NodeRun {
  const end = new Date();
  return {
    uniqueId: node.uniqueId,
    resourceType: node.resourceType,
    status,
    message,
    failures,
    rows,
    compiledSql: sql,
    relation: node.resourceType === "model" ? node.relation : null,
    timing: [
      {
        name: "compile",
        started_at: compileStart.toISOString(),
        completed_at: executeStart.toISOString(),
      },
      { name: "execute", started_at: executeStart.toISOString(), completed_at: end.toISOString() },
    ],
    executionTime: (end.getTime() - compileStart.getTime()) / 1000,
  };
}
