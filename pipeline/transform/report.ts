/** Human-readable summaries of a transform: split sizes, test summary, failing tests. */
import { textTable } from "../text-table.ts";
import type { TransformResult } from "./result.ts";

export function formatTransform(result: TransformResult): string {
  const { models, tests } = result.summary;
  const lines = [
    `dbt build of ${result.projectDir} on ${result.target} by ${result.engine === "builtin" ? "the built-in runner" : "dbt-core"} in ${result.seconds.toFixed(1)} s${result.selected.length ? ` (--select ${result.selected.join(" ")})` : ""}`,
  ];
  const built = result.dag.nodes
    .filter((n) => n.type === "model" && n.status !== undefined)
    .sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  lines.push(
    textTable(
      ["model", "materialized", "status", "rows", "seconds"],
      built.map((n) => [
        n.name,
        n.materialized ?? "",
        n.status ?? "",
        n.rows ?? "",
        (n.seconds ?? 0).toFixed(2),
      ]),
    ),
  );
  lines.push(
    `models: ${models.success} built, ${models.error} failed, ${models.skipped} skipped; ` +
      `tests: ${tests.pass} passed, ${tests.warn} warned, ${tests.fail} failed, ${tests.error} errored, ${tests.skipped} skipped`,
  );
  if (result.splits) {
    const { train, validation, test } = result.splits;
    lines.push(`sessions per split: train ${train}, validation ${validation}, test ${test}`);
  }
  const warnings = result.failedTests.filter((t) => t.status === "warn");
  if (warnings.length)
    lines.push(`warnings (severity warn, not failing the stage):\n${formatTests(warnings)}`);
  return lines.join("\n");
}

/** The failing tests and models, with the first rows each failing test returned. */
export function formatFailures(result: TransformResult): string {
  const failing = result.failedTests.filter((t) => t.status === "fail" || t.status === "error");
  const models = result.dag.nodes.filter((n) => n.type === "model" && n.status === "error");
  const parts: string[] = [];
  if (models.length) {
    parts.push(
      textTable(
        ["failed model", "message"],
        models.map((n) => [n.name, oneLine(n.message ?? "")]),
      ),
    );
  }
  if (failing.length) parts.push(formatTests(failing));
  const warnings = result.failedTests.filter((t) => t.status === "warn");
  if (warnings.length) parts.push(`warnings (severity warn):\n${formatTests(warnings)}`);
  return parts.join("\n");
}

function formatTests(tests: TransformResult["failedTests"]): string {
  const rows = tests.map((t) => [
    t.name,
    t.status,
    t.severity,
    t.failures ?? "",
    t.tested?.split(".").slice(2).join(".") ?? "",
    t.column ?? "",
  ]);
  const lines = [textTable(["test", "status", "severity", "failures", "model", "column"], rows)];
  for (const test of tests) {
    if (test.sample.length === 0) {
      if (test.status === "error" && test.message)
        lines.push(`${test.name}: ${oneLine(test.message)}`);
      continue;
    }
    const columns = Object.keys(test.sample[0] ?? {});
    lines.push(
      `${test.name}: first ${test.sample.length} failing row(s)`,
      textTable(
        columns,
        test.sample.map((row) => columns.map((c) => truncate(String(row[c] ?? "NULL")))),
      ),
    );
  }
  return lines.join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").slice(0, 300);
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}
