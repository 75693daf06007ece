/**
 * The model card as GitHub-flavoured markdown: the sticky PR comment and the job summary.
 * Top to bottom: verdict, metrics, charts (Mermaid), slices and robustness, data, run facts.
 *
 * A PR comment holds at most 65,536 characters. Every list that grows with the input (checks,
 * recommenders, DAG nodes, slices, config changes …) is a "part" that can show fewer items; when
 * the card is too long the longest part is halved until it fits, and each cut part says how many
 * items it left out and where the full list is. Rendering never fails for size.
 */
import { markdownTable } from "markdown-table";
import type {
  CardData,
  CheckResult,
  DriftFacts,
  MetricsRow,
  RobustnessResult,
  SliceResult,
  TrainingEpoch,
} from "./card-data.ts";
import { dagView, type DagView } from "./dag-view.ts";
import {
  RANKING_METRICS,
  ROLE_LABEL,
  SHARE_METRICS,
  VERDICT_ICON,
  candidateSummary,
  clip,
  delta,
  driftRows,
  estimate,
  historyCaption,
  historyLabel,
  int,
  num,
  percent,
  seconds,
  sortedRows,
  value,
} from "./format.ts";
import { dagFlowchart, xyChart } from "./mermaid.ts";

/** The hidden first line that identifies the sticky comment. */
export const CARD_MARKER = "<!-- mlops-model-card -->";
/** GitHub's limit on an issue or PR comment body, in characters. */
export const COMMENT_LIMIT = 65_536;
/** Points drawn per Mermaid chart: more would be unreadable and long. */
const MAX_CHART_POINTS = 60;

export interface CardOptions {
  /** Upper bound on the card's length (default: GitHub's comment limit). */
  maxLength?: number;
  /** Where the full, untruncated lists are, named in truncation notes (e.g. "report.html"). */
  fullReport?: string;
}

/** A list that can be shortened to `shown` items to fit the limit. */
interface Part {
  readonly total: number;
  shown: number;
  render(shown: number): string;
}

type Piece = string | Part;

export function renderCard(data: CardData, options: CardOptions = {}): string {
  const maxLength = options.maxLength ?? COMMENT_LIMIT;
  const where = options.fullReport ?? "the HTML report";
  const pieces: Piece[] = [
    CARD_MARKER,
    `## Model card · run \`${code(data.run.runId)}\``,
    ...(data.notes ?? []).map((note) => `> ${note.replace(/\s+/g, " ").trim()}`),
    ...verdictSection(data, where),
    ...metricsSection(data, where),
    ...candidateSection(data),
    ...chartsSection(data, where),
    ...historySection(data),
    ...slicesSection(data, where),
    ...driftSection(data),
    ...dataSection(data, where),
    ...runSection(data, where),
  ];
  const parts = pieces.filter((p): p is Part => typeof p !== "string");
  const render = () =>
    pieces
      .map((p) => (typeof p === "string" ? p : p.render(p.shown)))
      .filter((s) => s.length > 0)
      .join("\n\n") + "\n";
  let card = render();
  while (card.length > maxLength) {
    // Halve the part that currently takes the most room; stop when nothing can shrink further.
    let longest: Part | undefined;
    let longestLength = -1;
    for (const part of parts) {
      if (part.shown === 0) continue;
      const length = part.render(part.shown).length;
      if (length > longestLength) {
        longest = part;
        longestLength = length;
      }
    }
    if (!longest) break;
    longest.shown = Math.floor(longest.shown / 2);
    card = render();
  }
  return card.length <= maxLength ? card : hardCut(card, maxLength);
}

/** Last resort when even the fixed text is too long (e.g. a megabyte run id): cut at a line. */
function hardCut(card: string, maxLength: number): string {
  const note = "\n\n> ✂️ The card was cut here to fit GitHub's comment limit.\n";
  // Room for the note, a closing fence and a few closing </details>.
  let cut = card.slice(0, Math.max(0, maxLength - note.length - 80));
  const lastLine = cut.lastIndexOf("\n");
  if (lastLine > 0) cut = cut.slice(0, lastLine);
  // Close a Mermaid/code fence left open, or the note would be read as code.
  if ((cut.match(/^```/gm) ?? []).length % 2 === 1) cut += "\n```";
  const open = (cut.match(/<details/g) ?? []).length - (cut.match(/<\/details>/g) ?? []).length;
  cut += "\n\n</details>".repeat(Math.max(0, open));
  return cut + note;
}

/** Renders are cached per length: the fitting loop asks for the same ones repeatedly. */
function part(total: number, render: (shown: number) => string): Part {
  const cache = new Map<number, string>();
  return {
    total,
    shown: total,
    render(shown) {
      let text = cache.get(shown);
      if (text === undefined) {
        text = render(shown);
        cache.set(shown, text);
      }
      return text;
    },
  };
}

function omitted(total: number, shown: number, what: string, where: string): string {
  return shown < total
    ? `\n\n_${int(total - shown)} more ${what} left out to fit GitHub's comment limit; ${where} has them all._`
    : "";
}

/** A table cell: no line breaks, no pipes, no raw HTML from the data. */
function cell(text: string): string {
  return text
    .replace(/[\r\n]+/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\|/g, "\\|");
}

function code(text: string): string {
  return clip(text.replace(/`/g, "'"), 200);
}

function table(header: string[], rows: string[][], align?: string[]): string {
  return markdownTable([header, ...rows.map((r) => r.map(cell))], {
    alignDelimiters: false,
    ...(align ? { align } : {}),
  });
}

function details(summary: string, body: string, open = false): string {
  return `<details${open ? " open" : ""}><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

// 1. Verdict ---------------------------------------------------------------------------------

function checkRow(check: CheckResult): string[] {
  return [
    `${VERDICT_ICON[check.verdict]} ${check.verdict}`,
    check.name,
    check.kind,
    check.metric ?? "–",
    value(check.value),
    value(check.threshold),
    check.blocking ? "yes" : "no",
    check.detail ? clip(check.detail) : "",
  ];
}

const CHECK_HEADER = [
  "Verdict",
  "Check",
  "Kind",
  "Metric",
  "Value",
  "Threshold",
  "Blocking",
  "Detail",
];

/** The gate checks as a table: the card's verdict and the evaluate action's job summary. */
export function gateTable(checks: readonly CheckResult[]): string {
  return table(CHECK_HEADER, checks.map(checkRow));
}

function verdictSection(data: CardData, where: string): Piece[] {
  const verdict = data.verdict;
  const stopped = data.run.failedStage
    ? `The run stopped at the **${cell(data.run.failedStage)}** stage.`
    : "";
  if (!verdict) {
    return [
      "### ⏸️ No verdict: the evaluation stage has not run",
      stopped || "The card shows what the stages that ran recorded.",
    ];
  }
  const failing = verdict.checks.filter((c) => c.verdict === "fail" && c.blocking);
  const warnings = verdict.checks.filter(
    (c) => c.verdict === "warn" || (c.verdict === "fail" && !c.blocking),
  );
  const headline = verdict.passed
    ? `### ✅ Gates passed: ${verdict.checks.length} checks, ${warnings.length} warnings`
    : `### ❌ Gates failed: ${failing.length} of ${verdict.checks.filter((c) => c.blocking).length} blocking checks failed`;
  const flagged = [...failing, ...warnings];
  const pieces: Piece[] = [headline];
  if (stopped) pieces.push(stopped);
  if (flagged.length > 0) {
    pieces.push(
      part(flagged.length, (shown) =>
        shown === 0 && flagged.length > 0
          ? `_${flagged.length} failing or warning checks; ${where} lists them._`
          : gateTable(flagged.slice(0, shown)) + omitted(flagged.length, shown, "checks", where),
      ),
    );
  }
  if (verdict.checks.length > 0) {
    const counts = (["pass", "fail", "warn", "skipped"] as const)
      .map((v) => [v, verdict.checks.filter((c) => c.verdict === v).length] as const)
      .filter(([, n]) => n > 0)
      .map(([v, n]) => `${n} ${v}`)
      .join(", ");
    pieces.push(
      part(verdict.checks.length, (shown) =>
        details(
          `All ${verdict.checks.length} checks (${counts})`,
          shown === 0
            ? `_Left out to fit GitHub's comment limit; ${where} lists them._`
            : gateTable(verdict.checks.slice(0, shown)) +
                omitted(verdict.checks.length, shown, "checks", where),
        ),
      ),
    );
  }
  return pieces;
}

// 2. Metrics ---------------------------------------------------------------------------------

function metricsSection(data: CardData, where: string): Piece[] {
  const rows = sortedRows(data.metrics ?? []);
  if (rows.length === 0) return [];
  const candidate = rows.find((r) => r.kind === "model");
  const production = rows.find((r) => r.kind === "production");
  const oracle = rows.find((r) => r.kind === "oracle");
  const header = [
    "Recommender",
    "Role",
    ...RANKING_METRICS.map((m) => m.label),
    ...SHARE_METRICS.map((m) => m.label),
    "n",
  ];
  const align = ["l", "l", ...RANKING_METRICS.map(() => "r"), ...SHARE_METRICS.map(() => "r"), "r"];
  const line = (row: MetricsRow): string[] => [
    row.kind === "model" ? `**${row.name}**` : row.name,
    ROLE_LABEL[row.kind],
    ...RANKING_METRICS.map((m) => estimate(row[m.key])),
    ...SHARE_METRICS.map((m) => percent(row[m.key])),
    int(row.hr20?.n ?? row.hr10?.n),
  ];
  const deltaRow = (): string[] => {
    const c = candidate as MetricsRow;
    const p = production as MetricsRow;
    return [
      "_Δ candidate − production_",
      "",
      ...RANKING_METRICS.map((m) => delta(c[m.key]?.value, p[m.key]?.value)),
      ...SHARE_METRICS.map((m) => delta(c[m.key], p[m.key])),
      "",
    ];
  };
  const notes: string[] = ["Point estimates with confidence intervals in brackets."];
  if (candidate && oracle && candidate.hr20 && oracle.hr20 && oracle.hr20.value > 0) {
    notes.push(
      `The candidate reaches **${percent(candidate.hr20.value / oracle.hr20.value)}** of the oracle's HR@20 (the best any recommender can do on this data).`,
    );
  }
  if (!production) notes.push("No model in production yet: nothing to compare the candidate with.");
  return [
    "### Metrics",
    part(rows.length, (shown) => {
      const body = rows.slice(0, Math.max(shown, 0)).map(line);
      if (candidate && production && shown === rows.length) body.push(deltaRow());
      return table(header, body, align) + omitted(rows.length, shown, "recommenders", where);
    }),
    notes.join(" "),
  ];
}

function candidateSection(data: CardData): Piece[] {
  if (!data.candidate) return [];
  const { text, rows, adds } = candidateSummary(data.candidate);
  return [
    "### The candidate",
    [
      text,
      rows.length ? table(["On validation", "HR@20", "MRR@20"], rows, ["l", "r", "r"]) : "",
      adds ?? "",
    ]
      .filter(Boolean)
      .join("\n\n"),
  ];
}

// 3. Charts ----------------------------------------------------------------------------------

/** Every k-th epoch (always keeping the last) so a long training still draws as one chart. */
function sampleEpochs(epochs: TrainingEpoch[]): TrainingEpoch[] {
  if (epochs.length <= MAX_CHART_POINTS) return epochs;
  const step = Math.ceil(epochs.length / MAX_CHART_POINTS);
  const kept = epochs.filter((_, i) => i % step === 0);
  const last = epochs[epochs.length - 1] as TrainingEpoch;
  if (kept[kept.length - 1] !== last) kept.push(last);
  return kept;
}

function chartsSection(data: CardData, where: string): Piece[] {
  const pieces: Piece[] = [];
  const epochs = data.training?.epochs ?? [];
  if (epochs.length > 0) {
    const shown = sampleEpochs(epochs);
    const categories = shown.map((e) => String(e.epoch));
    const training = data.training;
    const facts = [
      training?.bestEpoch !== undefined ? `best epoch ${training.bestEpoch}` : "",
      training?.stoppedEarly ? "stopped early" : "",
      training?.backend ? `backend ${cell(training.backend)}` : "",
      training?.compute ? `compute ${cell(training.compute)}` : "",
      shown.length < epochs.length ? `${shown.length} of ${epochs.length} epochs drawn` : "",
    ].filter(Boolean);
    pieces.push(
      "### Training",
      facts.length ? facts.join(" · ") : "",
      xyChart({
        title: "Training loss per epoch",
        categories,
        yLabel: "loss",
        series: [{ kind: "line", values: shown.map((e) => e.loss) }],
      }),
      xyChart({
        title: "Validation HR@20 per epoch",
        categories,
        yLabel: "HR@20",
        yRange: [0, Math.min(1, Math.max(...shown.map((e) => e.validationHr20), 0.01) * 1.2)],
        series: [{ kind: "line", values: shown.map((e) => e.validationHr20) }],
      }),
    );
  }
  const rows = sortedRows(data.metrics ?? []).filter((r) => r.hr20 || r.mrr20);
  if (rows.length > 0) {
    pieces.push(
      "### Comparison",
      part(rows.length, (shown) => {
        if (shown === 0) return `_Charts left out to fit GitHub's comment limit; see ${where}._`;
        const kept = rows.slice(0, shown);
        // Names only: "cooccurrence (baseline)" and its neighbours overlap on the x axis, and
        // the table above says which recommender is which kind.
        const categories = kept.map((r) => r.name);
        const charts = RANKING_METRICS.filter((m) => m.key === "hr20" || m.key === "mrr20").map(
          (m) =>
            xyChart({
              title: `${m.label} by recommender`,
              categories,
              yLabel: m.label,
              series: [{ kind: "bar", values: kept.map((r) => r[m.key]?.value ?? 0) }],
            }),
        );
        return charts.join("\n\n") + omitted(rows.length, shown, "recommenders", where);
      }),
    );
  }
  if (data.dag && data.dag.nodes.length > 0) {
    const view = dagView(data.dag);
    view.boxes.sort((a, b) => a.layer - b.layer);
    const tests = data.dag.nodes.filter((n) => n.type === "test");
    const failed = tests.filter((t) => t.status === "fail" || t.status === "error").length;
    const summary = `dbt DAG: ${view.boxes.filter((b) => b.type === "model").length} models, ${
      view.boxes.filter((b) => b.type === "source").length
    } sources, ${tests.length} tests${failed ? ` (${failed} failed)` : ""}`;
    pieces.push(
      part(view.boxes.length, (shown) =>
        details(
          summary,
          shown === 0
            ? `_Left out to fit GitHub's comment limit; ${where} draws it._`
            : dagFlowchart(firstBoxes(view, shown)) +
                omitted(view.boxes.length, shown, "DAG nodes", where),
          failed > 0,
        ),
      ),
    );
  }
  return pieces;
}

/** The candidate's HR@20 after the last production models': is it better than what shipped? */
function historySection(data: CardData): Piece[] {
  const points = data.history ?? [];
  if (points.length === 0) return [];
  const top = Math.max(...points.map((p) => p.hr20.high ?? p.hr20.value), 0.01);
  return [
    "### Against earlier production models",
    xyChart({
      title: "HR@20: production models, then this candidate",
      categories: points.map(historyLabel),
      yLabel: "HR@20",
      yRange: [0, Math.min(1, top * 1.2)],
      // xychart-beta draws no whiskers: the interval's bounds are the two lines.
      series: [
        { kind: "bar", values: points.map((p) => p.hr20.value) },
        { kind: "line", values: points.map((p) => p.hr20.low ?? p.hr20.value) },
        { kind: "line", values: points.map((p) => p.hr20.high ?? p.hr20.value) },
      ],
    }),
    `${historyCaption(points)} Lines: the bounds of their confidence intervals.`,
  ];
}

function firstBoxes(view: DagView, shown: number): DagView {
  const boxes = view.boxes.slice(0, shown);
  const ids = new Set(boxes.map((b) => b.id));
  return {
    boxes,
    edges: view.edges.filter(([p, c]) => ids.has(p) && ids.has(c)),
    layers: view.layers,
  };
}

// 4. Slices and robustness -------------------------------------------------------------------

function slicesSection(data: CardData, where: string): Piece[] {
  const slices = data.slices ?? [];
  const robustness = data.robustness ?? [];
  if (slices.length === 0 && robustness.length === 0) return [];
  const pieces: Piece[] = ["### Slices and robustness"];
  if (slices.length > 0) {
    const withRecommender = slices.some((s) => s.recommender !== undefined);
    const header = [
      ...(withRecommender ? ["Recommender"] : []),
      "Dimension",
      "Bucket",
      "n",
      "HR@20",
    ];
    const line = (s: SliceResult): string[] => [
      ...(withRecommender ? [s.recommender ?? "candidate"] : []),
      s.dimension,
      s.bucket,
      int(s.n),
      num(s.hr20),
    ];
    const weakest = [...slices].filter((s) => s.n > 0).sort((a, b) => a.hr20 - b.hr20)[0];
    pieces.push(
      part(slices.length, (shown) =>
        details(
          `${slices.length} slices${
            weakest
              ? ` (weakest: ${cell(weakest.dimension)} = ${cell(weakest.bucket)}, HR@20 ${num(weakest.hr20)})`
              : ""
          }`,
          shown === 0
            ? `_Left out to fit GitHub's comment limit; ${where} lists them._`
            : table(header, slices.slice(0, shown).map(line)) +
                omitted(slices.length, shown, "slices", where),
        ),
      ),
    );
  }
  if (robustness.length > 0) {
    const line = (r: RobustnessResult): string[] => [
      r.verdict ? `${VERDICT_ICON[r.verdict]} ${r.verdict}` : "",
      r.name,
      r.metric,
      num(r.clean),
      num(r.perturbed),
      delta(r.perturbed, r.clean),
      r.detail ? clip(r.detail) : "",
    ];
    pieces.push(
      part(
        robustness.length,
        (shown) =>
          table(
            ["Verdict", "Perturbation", "Metric", "Clean", "Perturbed", "Δ", "Detail"],
            robustness.slice(0, shown).map(line),
          ) + omitted(robustness.length, shown, "robustness results", where),
      ),
    );
  }
  return pieces;
}

// 4b. Drift of production traffic ----------------------------------------------------------------

function driftSection(data: CardData): Piece[] {
  if (!data.drift) return [];
  return [
    "### Drift: production traffic against the training data",
    table(["Figure", "Value", "Reading"], driftRows(data.drift), ["l", "r", "l"]),
  ];
}

/** `pipeline drift --summary`: the drift figures and the drift gates, for a job summary. */
export function renderDriftSummary(
  drift: DriftFacts,
  checks: readonly CheckResult[],
  productionRunId: string,
): string {
  return [
    `### Drift of production traffic · the model of run \`${code(productionRunId)}\``,
    table(["Figure", "Value", "Reading"], driftRows(drift), ["l", "r", "l"]),
    checks.length > 0 ? gateTable(checks) : "_No drift gates in the gate file._",
  ].join("\n\n");
}

// 5. Data ------------------------------------------------------------------------------------

function dataSection(data: CardData, where: string): Piece[] {
  const facts = data.data;
  if (!facts) return [];
  const rows: string[][] = [];
  if (facts.source) rows.push(["Source", facts.source]);
  if (facts.rowsRead !== undefined) rows.push(["Rows read", int(facts.rowsRead)]);
  if (facts.rowsLoaded !== undefined) rows.push(["Rows loaded", int(facts.rowsLoaded)]);
  if (facts.rowsRejected !== undefined) {
    const share =
      facts.rowsRead && facts.rowsRead > 0
        ? ` (${percent(facts.rowsRejected / facts.rowsRead, 2)})`
        : "";
    rows.push(["Rows rejected", `${int(facts.rowsRejected)}${share}`]);
  }
  for (const [split, n] of Object.entries(facts.sessionsPerSplit ?? {})) {
    rows.push([`Sessions (${split})`, int(n)]);
  }
  if (facts.vocabularySize !== undefined)
    rows.push(["Vocabulary (SKUs)", int(facts.vocabularySize)]);
  if (facts.unseenSkuShare !== undefined) {
    rows.push(["Unseen-SKU share (test)", percent(facts.unseenSkuShare, 2)]);
  }
  const pieces: Piece[] = ["### Data"];
  if (rows.length > 0) pieces.push(table(["Fact", "Value"], rows, ["l", "r"]));
  const files = facts.files ?? [];
  if (files.length > 0) {
    pieces.push(
      part(files.length, (shown) =>
        details(
          `Per file (${files.length})`,
          shown === 0
            ? `_Left out to fit GitHub's comment limit; ${where} lists them._`
            : table(
                ["File", "Read", "Loaded", "Rejected"],
                files
                  .slice(0, shown)
                  .map((f) => [f.name, int(f.read), int(f.loaded), int(f.rejected)]),
                ["l", "r", "r", "r"],
              ) + omitted(files.length, shown, "files", where),
        ),
      ),
    );
  }
  return pieces.length > 1 ? pieces : [];
}

// 6. Run facts -------------------------------------------------------------------------------

function runSection(data: CardData, where: string): Piece[] {
  const run = data.run;
  const facts: string[][] = [["Run id", `\`${code(run.runId)}\``]];
  if (run.gitSha) facts.push(["Git sha", `\`${code(run.gitSha)}\``]);
  if (run.startedAt) facts.push(["Started", run.startedAt]);
  const backend = run.backend ?? data.training?.backend;
  const compute = run.compute ?? data.training?.compute;
  if (backend) facts.push(["Backend", backend]);
  if (compute) facts.push(["Compute", compute]);
  if (run.store) facts.push(["Run store", `\`${code(run.store)}\``]);
  if (run.failedStage) facts.push(["Stopped at", run.failedStage]);
  const pieces: Piece[] = ["### Run", table(["Fact", "Value"], facts)];
  const stages = run.stages ?? [];
  if (stages.length > 0) {
    const total = stages.reduce((sum, s) => sum + (s.seconds ?? 0), 0);
    pieces.push(
      part(
        stages.length,
        (shown) =>
          table(
            ["Stage", "Status", "Duration"],
            [
              ...stages.slice(0, shown).map((s) => [s.name, s.status ?? "–", seconds(s.seconds)]),
              ...(shown === stages.length ? [["**total**", "", seconds(total)]] : []),
            ],
            ["l", "l", "r"],
          ) + omitted(stages.length, shown, "stages", where),
      ),
    );
  }
  const diff = run.configDiff ?? [];
  pieces.push(
    diff.length === 0
      ? "Configuration: all defaults."
      : part(diff.length, (shown) =>
          details(
            `Configuration: ${diff.length} settings differ from the defaults`,
            shown === 0
              ? `_Left out to fit GitHub's comment limit; ${where} lists them._`
              : table(
                  ["Setting", "Value", "Default", "Set by"],
                  diff
                    .slice(0, shown)
                    .map((c) => [
                      c.key,
                      clip(value(c.value), 120),
                      clip(value(c.default), 120),
                      c.origin,
                    ]),
                ) + omitted(diff.length, shown, "settings", where),
          ),
        ),
  );
  const artifacts = run.artifacts ?? [];
  if (artifacts.length > 0) {
    pieces.push(
      part(artifacts.length, (shown) =>
        details(
          `Artifacts (${artifacts.length})`,
          artifacts
            .slice(0, shown)
            .map((a) => `- ${link(a.name, a.href)}`)
            .join("\n") + omitted(artifacts.length, shown, "artifacts", where),
        ),
      ),
    );
  }
  return pieces;
}

/** A markdown link for URLs; store paths (not clickable in a comment) as code. */
function link(name: string, href: string): string {
  const label = cell(name).replace(/[[\]]/g, "");
  if (/^https?:\/\//.test(href))
    return `[${label}](${href.replace(/[()\s]/g, encodeURIComponent)})`;
  return `${label}: \`${code(href)}\``;
}
