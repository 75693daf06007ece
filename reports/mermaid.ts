/**
 * Mermaid sources GitHub renders natively in comments and job summaries: `xychart-beta` line and
 * bar charts, and the dbt DAG as a `flowchart LR`. Every user-supplied string goes through an
 * escaper, and node ids are generated, so a model named `end` or a label with quotes cannot break
 * the diagram.
 */
import { boxState, tallyText, type DagView } from "./dag-view.ts";
import { int } from "./format.ts";

/** xychart-beta strings are double-quoted with no escape syntax: swap the characters it chokes on. */
export function chartText(text: string): string {
  return text
    .replace(/"/g, "'")
    .replace(/[\r\n\t]+/g, " ")
    .replace(/[[\]]/g, (c) => (c === "[" ? "(" : ")"));
}

/** Flowchart labels are quoted; Mermaid's `#name;` entities stand in for what would end or inject. */
export function flowLabel(text: string): string {
  return text
    .replace(/#/g, "#35;")
    .replace(/"/g, "#quot;")
    .replace(/</g, "#lt;")
    .replace(/>/g, "#gt;")
    .replace(/`/g, "#96;")
    .replace(/[\r\n\t]+/g, " ");
}

/** A node id Mermaid accepts whatever the model's name is: `n<index>_<letters, digits, _>`. */
export function nodeId(index: number, name: string): string {
  const tail = name.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 40);
  return `n${index}${tail ? `_${tail}` : ""}`;
}

/** Plain decimals only: the xychart grammar has no exponent notation (1e-7). */
function axisNumber(value: number): string {
  if (!Number.isFinite(value) || Math.abs(value) < 1e-6) return "0";
  return String(Number(value.toPrecision(4)));
}

export interface Series {
  kind: "line" | "bar";
  values: number[];
}

export interface XyChart {
  title: string;
  categories: string[];
  yLabel: string;
  /** [min, max] of the y axis; derived from the data (from 0) when absent. */
  yRange?: [number, number];
  series: Series[];
}

/**
 * The charts' colours, in series order: mid tones that read on GitHub's light and dark themes
 * alike (mermaid's default plot colour is a pale lavender, faint on white and worse on dark).
 */
export const CHART_PALETTE = ["#2f81f7", "#db61a2", "#3fb950", "#d29922"];

export function xyChart(chart: XyChart): string {
  const all = chart.series.flatMap((s) => s.values).filter(Number.isFinite);
  const [low, high] = chart.yRange ?? [Math.min(0, ...all), Math.max(...all, 0) * 1.1 || 1];
  const lines = [
    "```mermaid",
    // Mermaid's front matter: the configuration travels with the block.
    "---",
    "config:",
    "  themeVariables:",
    "    xyChart:",
    `      plotColorPalette: "${CHART_PALETTE.join(", ")}"`,
    "---",
    "xychart-beta",
    `  title "${chartText(chart.title)}"`,
    `  x-axis [${chart.categories.map((c) => `"${chartText(c)}"`).join(", ")}]`,
    `  y-axis "${chartText(chart.yLabel)}" ${axisNumber(low)} --> ${axisNumber(high)}`,
    ...chart.series.map(
      (s) =>
        `  ${s.kind} [${s.values.map((v) => (Number.isFinite(v) ? axisNumber(v) : "0")).join(", ")}]`,
    ),
    "```",
  ];
  return lines.join("\n");
}

/** The DAG as a flowchart: cylinders for sources, boxes for models, coloured by test results. */
export function dagFlowchart(view: DagView): string {
  const ids = new Map(view.boxes.map((box, i) => [box.id, nodeId(i, box.name)]));
  const lines = ["```mermaid", "flowchart LR"];
  for (const box of view.boxes) {
    const id = ids.get(box.id) as string;
    const facts = [
      box.type === "source" ? "source" : (box.materialized ?? "model"),
      box.rows !== undefined ? `${int(box.rows)} rows` : "",
    ].filter(Boolean);
    const parts = [box.name, facts.join(" · "), tallyText(box.tests)].filter(Boolean);
    const label = parts.map(flowLabel).join("<br/>");
    lines.push(box.type === "source" ? `  ${id}[("${label}")]` : `  ${id}["${label}"]`);
  }
  for (const [parent, child] of view.edges) {
    const p = ids.get(parent);
    const c = ids.get(child);
    if (p && c) lines.push(`  ${p} --> ${c}`);
  }
  const byState = new Map<string, string[]>();
  for (const box of view.boxes) {
    const state = boxState(box);
    if (state === "none") continue;
    if (!byState.has(state)) byState.set(state, []);
    byState.get(state)?.push(ids.get(box.id) as string);
  }
  const styles: Record<string, string> = {
    pass: "fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    warn: "fill:#fff8c5,stroke:#9a6700,color:#1f2328",
    fail: "fill:#ffebe9,stroke:#d1242f,color:#1f2328",
  };
  for (const [state, members] of byState) {
    lines.push(`  classDef ${state} ${styles[state]}`);
    lines.push(`  class ${members.join(",")} ${state}`);
  }
  lines.push("```");
  return lines.join("\n");
}
