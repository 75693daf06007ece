/**
 * The import graph of the pipeline, the card and the actions, type-only imports included:
 *
 * - no module imports itself back through any chain of imports: a cycle means two rooms that
 *   should be one, or a name in the wrong room;
 * - no module imports from a layer above its own (LAYERS).
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

function sources(folder: string): string[] {
  return (readdirSync(join(ROOT, folder), { recursive: true }) as string[])
    .filter((file) => file.endsWith(".ts") && !file.split(/[\\/]/).includes("dist"))
    .map((file) => normalize(join(folder, file)));
}

function importGraph(files: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), "utf8");
    const targets = [...text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)].map((m) =>
      normalize(join(dirname(file), m[1] as string)),
    );
    graph.set(file, targets);
  }
  return graph;
}

function cycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return found;
}

/**
 * The layers, lowest first; a file may import its own layer and those below. The stage library
 * (pipeline/ but its entry points) knows nothing of rendering or GitHub; the card (reports/)
 * renders what the library's stages record; the entry points run the stages and so call the
 * card too: `pipeline run`'s card stage (run/stages.ts), the CLI, doctor (which looks for the
 * card's Chromium), `pipeline drift` (monitor/drift-check.ts: upload, transform, then its check). reports/ stays a top-level folder, as the template's published layout has it,
 * and the card stage stays beside the other stages so that every stage is one table. The actions
 * sit on top.
 */
const LAYERS: { name: string; files: (file: string) => boolean }[] = [
  { name: "the stage library", files: (f) => f.startsWith("pipeline/") },
  { name: "the card", files: (f) => f.startsWith("reports/") },
  {
    name: "the entry points",
    files: (f) =>
      f === "pipeline/run/stages.ts" ||
      f.startsWith("pipeline/cli/") ||
      f === "pipeline/doctor.ts" ||
      f === "pipeline/monitor/drift-check.ts",
  },
  { name: "the actions", files: (f) => f.startsWith("actions/") },
];

/** The highest layer that claims the file (the entry points are also in pipeline/). */
function layerOf(file: string): number {
  return LAYERS.findLastIndex((layer) => layer.files(file.replaceAll("\\", "/")));
}

/** `from → to` for every import of a file from a layer above the file's own. */
function upwardImports(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      if (graph.has(to) && layerOf(to) > layerOf(from)) {
        found.push(
          `${from} (${LAYERS[layerOf(from)]?.name}) → ${to} (${LAYERS[layerOf(to)]?.name})`,
        );
      }
    }
  }
  return found.sort();
}

describe("the import graph", () => {
  const graph = importGraph([...sources("pipeline"), ...sources("reports"), ...sources("actions")]);

  it("has no cycles in pipeline/, reports/ or actions/", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(cycles(graph).map((c) => c.map((f) => relative(".", f)).join(" → "))).toEqual([]);
  });

  it("imports nothing from a higher layer", () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it("finds a cycle when there is one", () => {
    const graph = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["c.ts"]],
      ["c.ts", ["a.ts"]],
    ]);
    expect(cycles(graph)).toEqual([["a.ts", "b.ts", "c.ts", "a.ts"]]);
  });

  it("finds an import from a higher layer when there is one", () => {
    const graph = new Map([
      ["pipeline/evaluate/gates.ts", ["reports/markdown.ts"]],
      ["pipeline/train/train.ts", ["pipeline/run/stages.ts"]],
      ["reports/markdown.ts", ["actions/common/result-fields.ts", "pipeline/evaluate/gates.ts"]],
      // The entry points may call the card.
      ["pipeline/run/stages.ts", ["reports/write.ts"]],
      ["reports/write.ts", []],
      ["actions/common/result-fields.ts", []],
    ]);
    expect(upwardImports(graph)).toEqual([
      "pipeline/evaluate/gates.ts (the stage library) → reports/markdown.ts (the card)",
      "pipeline/train/train.ts (the stage library) → pipeline/run/stages.ts (the entry points)",
      "reports/markdown.ts (the card) → actions/common/result-fields.ts (the actions)",
    ]);
  });
});
