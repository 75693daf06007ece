import { describe, expect, it } from "vitest";
import type { CardData } from "../../reports/card-data.ts";
import { dagView } from "../../reports/dag-view.ts";
import { CARD_MARKER, COMMENT_LIMIT, renderCard } from "../../reports/markdown.ts";
import { chartText, flowLabel, nodeId, xyChart } from "../../reports/mermaid.ts";
import { fixtureCard, hugeCard, smallDag } from "../helpers/reports-fixture.ts";

/** Mermaid blocks with their source, in order. */
/** The blocks' diagrams, without their front matter (the charts' palette). */
function mermaidBlocks(card: string): string[] {
  return [...card.matchAll(/```mermaid\n([\s\S]*?)\n```/g)].map((m) =>
    (m[1] as string).replace(/^---\n[\s\S]*?\n---\n/, ""),
  );
}

/** Checks a flowchart the way Mermaid's grammar would reject it: ids, quotes, brackets, edges. */
function checkFlowchart(source: string): { nodes: Set<string>; edges: [string, string][] } {
  const lines = source.split("\n");
  expect(lines[0]).toBe("flowchart LR");
  const nodes = new Set<string>();
  const edges: [string, string][] = [];
  const classes = new Set<string>();
  for (const line of lines.slice(1)) {
    const node = /^ {2}([A-Za-z_][A-Za-z0-9_]*)(\["([^"]*)"\]|\[\("([^"]*)"\)\])$/.exec(line);
    const edge = /^ {2}([A-Za-z_][A-Za-z0-9_]*) --> ([A-Za-z_][A-Za-z0-9_]*)$/.exec(line);
    const classDef = /^ {2}classDef (\w+) [\w#:,-]+$/.exec(line);
    const classUse = /^ {2}class ([\w,]+) (\w+)$/.exec(line);
    if (node) {
      expect(nodes.has(node[1] as string)).toBe(false);
      nodes.add(node[1] as string);
    } else if (edge) {
      edges.push([edge[1] as string, edge[2] as string]);
    } else if (classDef) {
      classes.add(classDef[1] as string);
    } else if (classUse) {
      expect(classes.has(classUse[2] as string)).toBe(true);
      for (const id of (classUse[1] as string).split(",")) expect(nodes.has(id)).toBe(true);
    } else {
      throw new Error(`not a flowchart line: ${line}`);
    }
  }
  for (const [a, b] of edges) {
    expect(nodes.has(a)).toBe(true);
    expect(nodes.has(b)).toBe(true);
  }
  return { nodes, edges };
}

function checkXyChart(source: string): void {
  const lines = source.split("\n");
  expect(lines[0]).toBe("xychart-beta");
  expect(lines[1]).toMatch(/^ {2}title "[^"]*"$/);
  const axis = /^ {2}x-axis \[(.*)\]$/.exec(lines[2] ?? "");
  expect(axis).not.toBeNull();
  const categories = (axis?.[1] ?? "").match(/"[^"]*"/g) ?? [];
  expect(lines[3]).toMatch(/^ {2}y-axis "[^"]*" -?[\d.e+-]+ --> -?[\d.e+-]+$/);
  const series = lines.slice(4);
  expect(series.length).toBeGreaterThan(0);
  for (const line of series) {
    const values = /^ {2}(line|bar) \[([^\]]*)\]$/.exec(line);
    expect(values, line).not.toBeNull();
    const numbers = (values?.[2] ?? "").split(", ").map(Number);
    expect(numbers.every(Number.isFinite)).toBe(true);
    expect(numbers).toHaveLength(categories.length);
  }
}

describe("renderCard", () => {
  const card = renderCard(fixtureCard());

  it("starts with the hidden marker and puts the sections in order", () => {
    expect(card.split("\n")[0]).toBe(CARD_MARKER);
    const headings = card.split("\n").filter((l) => l.startsWith("### "));
    const order = [
      "### ❌ Gates failed",
      "### Metrics",
      "### The candidate",
      "### Training",
      "### Comparison",
      "### Against earlier production models",
      "### Slices and robustness",
      "### Data",
      "### Run",
    ];
    expect(headings.map((h) => order.find((o) => h.startsWith(o)))).toEqual(order);
    expect(card.indexOf("dbt DAG")).toBeGreaterThan(card.indexOf("### Comparison"));
    expect(card.indexOf("dbt DAG")).toBeLessThan(card.indexOf("### Slices"));
  });

  it("says what the candidate is made of and what its network adds", () => {
    const section = card.slice(card.indexOf("### The candidate"), card.indexOf("### Training"));
    expect(section).toContain(
      "**hybrid** blends a GRU(64) with tied embeddings (weight 0.5), item co-occurrence (weight 1) and in-session repeats (weight 0.7); the weights were fitted on 10,000 validation prefixes; session-kNN got weight 0.",
    );
    expect(section).toContain("| the network alone | 0.388 | 0.153 |");
    expect(section).toContain("| without the network | 0.507 | 0.198 |");
    expect(section).toContain("the network adds HR@20 +0.0206 (95% CI [0.0161, 0.0250])");
    const alone = renderCard({
      ...fixtureCard(),
      candidate: {
        name: "seeds",
        network: "LSTM(32) with a separate output layer",
        blend: [{ kind: "neural", weight: 1 }],
      },
    });
    expect(alone).toContain("**seeds** ranks with a LSTM(32) with a separate output layer alone.");
  });

  it("leads with the verdict and the failing checks", () => {
    expect(card).toMatch(/### ❌ Gates failed: 1 of 2 blocking checks failed/);
    const beforeDetails = card.slice(0, card.indexOf("<details>"));
    expect(beforeDetails).toContain("no regression vs production");
    expect(beforeDetails).toContain("short sessions");
    expect(beforeDetails).not.toContain("beats popularity");
    // A pipe inside a cell must not split the row.
    expect(card).toContain("candidate 0.284 \\| production 0.301");
  });

  it("shows a passing verdict with ✅", () => {
    const data = fixtureCard();
    data.verdict = {
      passed: true,
      checks: [{ name: "beats popularity", kind: "gate", verdict: "pass", blocking: true }],
    };
    expect(renderCard(data)).toMatch(/### ✅ Gates passed: 1 checks/);
  });

  it("tabulates candidate, production with deltas, baselines and the oracle with CIs", () => {
    const metrics = card.slice(card.indexOf("### Metrics"), card.indexOf("### The candidate"));
    const rows = metrics
      .split("\n")
      .filter((l) => l.startsWith("| ") && !l.startsWith("| -") && !l.startsWith("| :"));
    expect(rows.map((r) => r.split(" | ")[0])).toEqual([
      "| Recommender",
      "| **lstm**",
      "| production",
      "| popularity",
      "| sknn",
      "| oracle",
      "| _Δ candidate − production_",
    ]);
    expect(metrics).toContain("0.284 [0.270, 0.298]");
    expect(rows[6]).toContain("−0.017");
    expect(metrics).toMatch(/reaches \*\*54\.6%\*\* of the oracle/);
  });

  it("draws Mermaid charts GitHub can parse: training curves, comparison bars, the DAG", () => {
    const blocks = mermaidBlocks(card);
    const xy = blocks.filter((b) => b.startsWith("xychart-beta"));
    const flow = blocks.filter((b) => b.startsWith("flowchart"));
    expect(xy).toHaveLength(5);
    expect(flow).toHaveLength(1);
    xy.forEach(checkXyChart);
    expect(xy[0]).toContain('x-axis ["1", "2", "3", "4", "5", "6"]');
    expect(xy[2]).toMatch(/^ {2}bar \[0\.284, 0\.301, 0\.09, 0\.24, 0\.52\]$/m);
    // Bar labels are the recommenders' names alone: "cooccurrence (baseline)" and its
    // neighbours ran into each other on the x axis.
    const bars = /x-axis \[(.*)\]/.exec(xy[2] as string)?.[1] ?? "";
    expect(bars).not.toContain("(");
    expect(bars.split(", ").every((label) => label.length <= 24)).toBe(true);
    // The history: eight production models by their run ids' tails, then the candidate, as bars
    // with the interval's bounds as two lines.
    const history = xy[4] as string;
    expect(history).toContain(
      'x-axis ["a1b2c0", "a1b2c1", "a1b2c2", "a1b2c3", "a1b2c4", "a1b2c5", "a1b2c6", "a1b2c7", "candidate"]',
    );
    expect(history).toMatch(/^ {2}bar \[0\.22, .*, 0\.301, 0\.284\]$/m);
    expect(history.match(/^ {2}line /gm)).toHaveLength(2);
    const { nodes, edges } = checkFlowchart(flow[0] as string);
    expect(nodes.size).toBe(5);
    expect(edges).toHaveLength(4);
    // Every fence is closed and every <details> too.
    expect((card.match(/^```/gm) ?? []).length % 2).toBe(0);
    expect((card.match(/<details/g) ?? []).length).toBe((card.match(/<\/details>/g) ?? []).length);
  });

  it("labels DAG nodes with materialization, rows and test results, escaped", () => {
    const flow = mermaidBlocks(card).find((b) => b.startsWith("flowchart")) as string;
    expect(flow).toContain('["stg_events<br/>view · 182,340 rows<br/>tests 1 ✗"]');
    expect(flow).toContain(
      "session_items #quot;all#quot; #lt;x#gt; #35;1<br/>table · 9,870 rows<br/>tests 1 ⚠",
    );
    expect(flow).toMatch(/\[\("browsing<br\/>source"\)\]/);
    expect(flow).toMatch(/class n2_stg_events fail/);
    // A failed test opens the DAG section.
    expect(card).toContain(
      "<details open><summary>dbt DAG: 3 models, 2 sources, 3 tests (1 failed)",
    );
  });

  it("has slices, robustness, data and run facts", () => {
    expect(card).toContain("5 slices (weakest: session length = 1–2, HR@20 0.120)");
    expect(card).toMatch(
      /\| ⚠️ warn \| inject unseen SKU \| hr@20 \| 0\.284 \| 0\.270 \| −0\.014 \|/,
    );
    expect(card).toMatch(/\| Rows rejected \| 150 \(0\.07%\) \|/);
    expect(card).toMatch(/\| Sessions \(validation\) \| 1,000 \|/);
    expect(card).toMatch(/\| Unseen-SKU share \(test\) \| 1\.30% \|/);
    expect(card).toMatch(/\| train \| ok \| 2 min 41 s \|/);
    expect(card).toMatch(/\| train\.epochs \| 8 \| 5 \| cli \|/);
    expect(card).toContain("- [workflow run](https://github.com/o/r/actions/runs/1)");
    expect(card).toContain("- model: `.mlops/store/runs/20261123-104500-abc123/train/model.json`");
  });

  it("renders a partial run: only the run id, and a run stopped at transform", () => {
    const bare = renderCard({ run: { runId: "r1" } });
    expect(bare.split("\n")[0]).toBe(CARD_MARKER);
    expect(bare).toContain("### ⏸️ No verdict");
    expect(bare).toContain("| Run id | `r1` |");
    expect(bare).not.toContain("### Metrics");
    expect(bare).not.toContain("### Against earlier production models");
    expect(mermaidBlocks(bare)).toEqual([]);

    const partial: CardData = {
      run: {
        runId: "r2",
        failedStage: "transform",
        stages: [{ name: "upload", seconds: 1, status: "ok" }],
      },
      dag: smallDag(),
      data: { rowsRead: 10 },
    };
    const text = renderCard(partial);
    expect(text).toContain("The run stopped at the **transform** stage.");
    expect(text).toContain("| Stopped at | transform |");
    expect(mermaidBlocks(text)).toHaveLength(1);
  });

  it("stays under GitHub's 65,536 characters for a huge run, with notes where it cut", () => {
    const huge = hugeCard();
    const text = renderCard(huge);
    expect(text.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(text.length).toBeGreaterThan(COMMENT_LIMIT / 2);
    expect(text).toMatch(/more DAG nodes left out to fit GitHub's comment limit/);
    expect(text).toMatch(/more slices left out/);
    expect(text).toContain("500 epochs");
    // Truncation keeps every Mermaid block valid.
    for (const block of mermaidBlocks(text)) {
      if (block.startsWith("flowchart")) checkFlowchart(block);
      else checkXyChart(block);
    }
    expect((text.match(/<details/g) ?? []).length).toBe((text.match(/<\/details>/g) ?? []).length);
    const order = [
      "### ❌",
      "### Metrics",
      "### The candidate",
      "### Training",
      "### Comparison",
      "### Slices",
      "### Data",
      "### Run",
    ];
    const at = order.map((h) => text.indexOf(h));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it("honours a smaller limit and cuts hard only as a last resort", () => {
    expect(renderCard(fixtureCard(), { maxLength: 3000 }).length).toBeLessThanOrEqual(3000);
    const monster = renderCard(
      { run: { runId: "r", gitSha: "x", store: "y".repeat(100) } },
      { maxLength: 200 },
    );
    expect(monster.length).toBeLessThanOrEqual(200);
    expect(monster).toContain("cut here");
  });
});

describe("Mermaid escaping", () => {
  it("makes node ids from any name and escapes labels", () => {
    expect(nodeId(3, "end")).toBe("n3_end");
    expect(nodeId(0, "weird name/with.dots")).toBe("n0_weird_name_with_dots");
    expect(nodeId(1, "")).toBe("n1");
    expect(flowLabel('a "b" <c> #d `e`')).toBe("a #quot;b#quot; #lt;c#gt; #35;d #96;e#96;");
    expect(chartText('say "hi" [x]\nnext')).toBe("say 'hi' (x) next");
  });

  it("writes chart numbers without exponents, which the xychart grammar lacks", () => {
    const chart = xyChart({
      title: 'loss "raw"',
      categories: ["a", "b", "c"],
      yLabel: "loss",
      series: [{ kind: "line", values: [1e-9, 123456.789, Number.NaN] }],
    });
    const source = mermaidBlocks(chart)[0] as string;
    checkXyChart(source);
    expect(source).toContain("line [0, 123500, 0]");
    expect(source).not.toMatch(/\de[+-]?\d/);
  });

  it("folds tests into the node they test and layers the DAG", () => {
    const view = dagView(smallDag());
    expect(view.boxes.map((b) => [b.name.split(" ")[0], b.layer])).toEqual([
      ["browsing", 0],
      ["sku_to_content", 0],
      ["stg_events", 1],
      ["sessions", 2],
      ["session_items", 3],
    ]);
    expect(view.boxes.find((b) => b.name === "stg_events")?.tests).toEqual({
      pass: 0,
      warn: 0,
      fail: 1,
      other: 0,
    });
    expect(view.layers).toBe(4);
  });
});
