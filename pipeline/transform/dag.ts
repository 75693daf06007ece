/**
 * The transform stage's output, read from dbt's own artifacts (manifest.json and
 * run_results.json), so dbt-core and the built-in runner produce the same summary: the DAG's
 * nodes and edges with materializations, row counts, timings and test results. The model card
 * draws it.
 */
export interface DagNode {
  id: string;
  name: string;
  type: "source" | "model" | "test";
  materialized?: string;
  relation?: string;
  /** Only for nodes this build ran: their 0-based place in the build, and how it went. */
  order?: number;
  status?: string;
  rows?: number;
  seconds?: number;
  /** Tests: failing rows, severity, the model and column tested. */
  failures?: number;
  severity?: "error" | "warn";
  tested?: string;
  column?: string;
  message?: string;
}

export interface TransformDag {
  nodes: DagNode[];
  /** [parent, child] unique ids. */
  edges: [string, string][];
}

interface ManifestNode {
  name: string;
  resource_type: string;
  relation_name?: string | null;
  config?: { materialized?: string; severity?: string };
  depends_on?: { nodes?: string[] };
  attached_node?: string | null;
  column_name?: string | null;
}

interface RunResult {
  unique_id: string;
  status: string;
  execution_time: number;
  failures: number | null;
  message: string | null;
  adapter_response?: { rows_affected?: number };
}

export interface DbtManifest {
  nodes: Record<string, ManifestNode>;
  sources: Record<string, ManifestNode>;
}

export interface DbtRunResults {
  results: RunResult[];
  elapsed_time: number;
}

/**
 * `rowCounts`: whether run_results' `rows_affected` is the relation's row count. It is for the
 * built-in runner; dbt-core adapters report what the statement returned (dbt-snowflake: 1 for a
 * CREATE TABLE AS), so for dbt-core the stage counts the rows itself.
 */
export function dagFromArtifacts(
  manifest: DbtManifest,
  results: DbtRunResults,
  rowCounts: boolean,
): TransformDag {
  const byId = new Map(results.results.map((r) => [r.unique_id, r]));
  const order = new Map(results.results.map((r, i) => [r.unique_id, i]));
  const nodes: DagNode[] = [];
  const edges: [string, string][] = [];
  for (const [id, source] of Object.entries(manifest.sources)) {
    nodes.push({
      id,
      name: source.name,
      type: "source",
      ...(source.relation_name ? { relation: source.relation_name } : {}),
    });
  }
  for (const [id, node] of Object.entries(manifest.nodes)) {
    if (node.resource_type !== "model" && node.resource_type !== "test") continue;
    const run = byId.get(id);
    const rows = run?.adapter_response?.rows_affected;
    const isTest = node.resource_type === "test";
    nodes.push({
      id,
      name: node.name,
      type: isTest ? "test" : "model",
      ...(!isTest && node.config?.materialized ? { materialized: node.config.materialized } : {}),
      ...(!isTest && node.relation_name ? { relation: node.relation_name } : {}),
      ...(run
        ? {
            order: order.get(id),
            status: run.status,
            seconds: run.execution_time,
            ...(run.message ? { message: run.message } : {}),
          }
        : {}),
      ...(rowCounts && !isTest && typeof rows === "number" && run?.status === "success"
        ? { rows }
        : {}),
      ...(isTest && typeof run?.failures === "number" ? { failures: run.failures } : {}),
      ...(isTest
        ? { severity: node.config?.severity?.toLowerCase() === "warn" ? "warn" : "error" }
        : {}),
      ...(isTest && (node.attached_node ?? node.depends_on?.nodes?.[0])
        ? { tested: (node.attached_node ?? node.depends_on?.nodes?.[0]) as string }
        : {}),
      ...(isTest && node.column_name ? { column: node.column_name } : {}),
    } as DagNode);
    for (const parent of node.depends_on?.nodes ?? []) edges.push([parent, id]);
  }
  return { nodes, edges };
}

export interface BuildSummary {
  models: Record<"success" | "error" | "skipped", number>;
  tests: Record<"pass" | "warn" | "fail" | "error" | "skipped", number>;
}

/** What ran, counted by status (nodes this build did not select are left out). */
export function summarize(dag: TransformDag): BuildSummary {
  const summary: BuildSummary = {
    models: { success: 0, error: 0, skipped: 0 },
    tests: { pass: 0, warn: 0, fail: 0, error: 0, skipped: 0 },
  };
  for (const node of dag.nodes) {
    if (node.status === undefined) continue;
    if (node.type === "model" && node.status in summary.models) {
      summary.models[node.status as keyof BuildSummary["models"]]++;
    }
    if (node.type === "test" && node.status in summary.tests) {
      summary.tests[node.status as keyof BuildSummary["tests"]]++;
    }
  }
  return summary;
}
