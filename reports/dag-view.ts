/**
 * The dbt DAG as the card draws it: sources and models as boxes, each data test folded into the
 * node it tests (a box per test would drown the models), and a layer per node (its longest
 * distance from a source) for the left-to-right layout.
 */
import type { DagNode, TransformDag } from "./card-data.ts";

export interface TestTally {
  pass: number;
  warn: number;
  fail: number;
  /** error and skipped tests: they did not say anything about the data. */
  other: number;
}

export interface DagBox {
  id: string;
  name: string;
  type: "source" | "model";
  materialized?: string;
  rows?: number;
  status?: string;
  tests: TestTally;
  layer: number;
}

export interface DagView {
  boxes: DagBox[];
  /** [parent, child] ids between boxes. */
  edges: [string, string][];
  layers: number;
}

export function dagView(dag: TransformDag): DagView {
  const boxes = new Map<string, DagBox>();
  for (const node of dag.nodes) {
    if (node.type === "test") continue;
    boxes.set(node.id, {
      id: node.id,
      name: node.name,
      type: node.type,
      ...(node.materialized ? { materialized: node.materialized } : {}),
      ...(node.rows !== undefined ? { rows: node.rows } : {}),
      ...(node.status ? { status: node.status } : {}),
      tests: { pass: 0, warn: 0, fail: 0, other: 0 },
      layer: 0,
    });
  }
  const parentsOf = new Map<string, string[]>();
  for (const [parent, child] of dag.edges) {
    if (!parentsOf.has(child)) parentsOf.set(child, []);
    parentsOf.get(child)?.push(parent);
  }
  for (const node of dag.nodes) {
    if (node.type !== "test" || node.status === undefined) continue;
    const target = testedBox(node, parentsOf, boxes);
    if (!target) continue;
    const tally = target.tests;
    if (node.status === "pass") tally.pass++;
    else if (node.status === "warn") tally.warn++;
    else if (node.status === "fail") tally.fail++;
    else tally.other++;
  }
  const edges = dag.edges.filter(([p, c]) => boxes.has(p) && boxes.has(c));
  const layers = assignLayers(boxes, edges);
  return { boxes: [...boxes.values()], edges, layers };
}

function testedBox(
  test: DagNode,
  parentsOf: Map<string, string[]>,
  boxes: Map<string, DagBox>,
): DagBox | undefined {
  if (test.tested && boxes.has(test.tested)) return boxes.get(test.tested);
  for (const parent of parentsOf.get(test.id) ?? []) {
    const box = boxes.get(parent);
    if (box) return box;
  }
  return undefined;
}

/** Longest-path layering; a cycle (never valid in dbt) is cut by bounding the passes. */
function assignLayers(boxes: Map<string, DagBox>, edges: [string, string][]): number {
  const limit = boxes.size;
  for (let pass = 0; pass < limit; pass++) {
    let changed = false;
    for (const [p, c] of edges) {
      const parent = boxes.get(p);
      const child = boxes.get(c);
      if (parent && child && child.layer < parent.layer + 1 && parent.layer + 1 < limit) {
        child.layer = parent.layer + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  let max = -1;
  for (const box of boxes.values()) max = Math.max(max, box.layer);
  return max + 1;
}

/** "3 ✓ · 1 ✗": the box's test results, or "" when no test ran on it. */
export function tallyText(tests: TestTally): string {
  const parts: string[] = [];
  if (tests.pass) parts.push(`${tests.pass} ✓`);
  if (tests.warn) parts.push(`${tests.warn} ⚠`);
  if (tests.fail) parts.push(`${tests.fail} ✗`);
  if (tests.other) parts.push(`${tests.other} not run`);
  return parts.length ? `tests ${parts.join(" · ")}` : "";
}

/** pass, warn or fail: the box's overall state for colouring. */
export function boxState(box: DagBox): "fail" | "warn" | "pass" | "none" {
  if (box.status === "error" || box.tests.fail > 0) return "fail";
  if (box.tests.warn > 0 || box.status === "skipped") return "warn";
  if (box.status === "success" || box.tests.pass > 0) return "pass";
  return "none";
}
