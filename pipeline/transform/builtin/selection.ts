/**
 * dbt's basic node selection: `model`, `model+` (and its descendants), `+model` (and its
 * ancestors), `+model+`, `tag:x`; several selectors (space-separated or repeated) are a union.
 * Tests follow dbt's default "eager" indirect selection: a test runs when any node it tests is
 * selected.
 */
import { InputError } from "../../errors.ts";
import type { DbtGraph, ModelNode } from "./graph.ts";

export interface Selection {
  models: Set<string>;
  tests: Set<string>;
}

export function select(graph: DbtGraph, selectors: string[]): Selection {
  const terms = selectors.flatMap((s) => s.split(/\s+/)).filter((s) => s !== "");
  // Models and sources: `+model` reaches the sources upstream, and their tests run with it.
  const nodes = new Set<string>();
  if (terms.length === 0) {
    for (const node of [...graph.models, ...graph.sources]) nodes.add(node.uniqueId);
  }
  for (const term of terms) {
    for (const id of selectTerm(graph, term)) nodes.add(id);
  }
  const models = new Set([...nodes].filter((id) => id.startsWith("model.")));
  const tests = new Set<string>();
  for (const test of graph.tests) {
    if (test.dependsOn.some((id) => nodes.has(id))) tests.add(test.uniqueId);
  }
  return { models, tests };
}

function selectTerm(graph: DbtGraph, term: string): string[] {
  const match = /^(\+?)([^+]+)(\+?)$/.exec(term);
  if (!match || term.includes(",") || /^\d/.test(term)) {
    throw new InputError(
      `unsupported selector "${term}"`,
      { field: "--select" },
      "The built-in runner supports model, model+, +model, +model+ and tag:x (space-separated for a union).",
    );
  }
  const [, up, body = "", down] = match;
  let roots: ModelNode[];
  if (body.startsWith("tag:")) {
    const tag = body.slice(4);
    roots = graph.models.filter((m) => m.config.tags.includes(tag));
  } else if (body.includes(":")) {
    throw new InputError(
      `unsupported selector method "${body.split(":")[0]}:"`,
      { field: "--select" },
      "The built-in runner supports the tag: method and model names.",
    );
  } else {
    roots = graph.models.filter((m) => m.name === body);
  }
  if (roots.length === 0) {
    throw new InputError(
      `the selector "${term}" matches no model`,
      { field: "--select" },
      `Models: ${graph.models.map((m) => m.name).join(", ")}.`,
    );
  }
  const out = new Set(roots.map((m) => m.uniqueId));
  if (up) for (const root of roots) walk(graph, root.uniqueId, "up", out);
  if (down) for (const root of roots) walk(graph, root.uniqueId, "down", out);
  return [...out];
}

function walk(graph: DbtGraph, from: string, direction: "up" | "down", out: Set<string>): void {
  const next =
    direction === "up"
      ? (graph.models.find((m) => m.uniqueId === from)?.dependsOn ?? [])
      : graph.models.filter((m) => m.dependsOn.includes(from)).map((m) => m.uniqueId);
  for (const id of next) {
    if (out.has(id)) continue;
    out.add(id);
    if (id.startsWith("model.")) walk(graph, id, direction, out);
  }
}

/** Every model downstream of these nodes (what a failure there must skip). */
export function descendants(graph: DbtGraph, ids: string[]): Set<string> {
  const out = new Set<string>();
  for (const id of ids) walk(graph, id, "down", out);
  return out;
}
