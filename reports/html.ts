/**
 * The model card as one self-contained HTML file (report.html): the same sections as the
 * markdown card, nothing truncated, charts as inline SVG, tables sortable by clicking a header
 * (a few lines of inline script). It opens from disk or an artifact download with no network.
 */
import type { CardData, CheckResult, MetricsRow } from "./card-data.ts";
import { dagView } from "./dag-view.ts";
import {
  RANKING_METRICS,
  ROLE_LABEL,
  SHARE_METRICS,
  VERDICT_ICON,
  candidateSummary,
  delta,
  estimate,
  historyCaption,
  historyLabel,
  int,
  num,
  percent,
  seconds,
  sortedRows,
  value,
  driftRows,
} from "./format.ts";
import { barChart, dagChart, escapeXml, lineChart } from "./svg.ts";

/** A table cell: what is shown, and what it sorts by (numbers sort as numbers). */
interface Cell {
  text: string;
  sort?: number | string;
  /** Raw HTML instead of escaped text (only for markup this module builds). */
  html?: boolean;
}

type CellInput = Cell | string;

const esc = escapeXml;

function table(caption: string, header: string[], rows: CellInput[][]): string {
  const head = header.map((h) => `<th scope="col" tabindex="0">${esc(h)}</th>`).join("");
  const body = rows
    .map(
      (row) =>
        `<tr>${row
          .map((c) => {
            const cell = typeof c === "string" ? { text: c } : c;
            const sort =
              cell.sort !== undefined &&
              (typeof cell.sort === "string" || Number.isFinite(cell.sort))
                ? ` data-sort="${esc(String(cell.sort))}"`
                : "";
            const numeric = typeof cell.sort === "number" ? ` class="num"` : "";
            return `<td${sort}${numeric}>${cell.html ? cell.text : esc(cell.text)}</td>`;
          })
          .join("")}</tr>`,
    )
    .join("");
  return `<div class="scroll"><table class="sortable"><caption>${esc(caption)}</caption><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
}

const n = (v: number | undefined, text: string): Cell => ({
  text,
  ...(v !== undefined ? { sort: v } : {}),
});

function section(id: string, title: string, body: string): string {
  return body ? `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>` : "";
}

function checkRow(c: CheckResult): CellInput[] {
  return [
    { text: `${VERDICT_ICON[c.verdict]} ${c.verdict}`, sort: c.verdict },
    c.name,
    c.kind,
    c.metric ?? "–",
    n(typeof c.value === "number" ? c.value : undefined, value(c.value)),
    value(c.threshold),
    c.blocking ? "yes" : "no",
    c.detail ?? "",
  ];
}

function verdictHtml(data: CardData): string {
  const v = data.verdict;
  const stopped = data.run.failedStage
    ? `<p>The run stopped at the <strong>${esc(data.run.failedStage)}</strong> stage.</p>`
    : "";
  if (!v) {
    return `<p class="verdict none">⏸️ No verdict: the evaluation stage has not run.</p>${stopped}`;
  }
  const failing = v.checks.filter((c) => c.verdict === "fail" && c.blocking);
  const head = v.passed
    ? `<p class="verdict pass">✅ Gates passed (${v.checks.length} checks)</p>`
    : `<p class="verdict fail">❌ Gates failed: ${failing.length} blocking checks failed</p>`;
  const header = ["Verdict", "Check", "Kind", "Metric", "Value", "Threshold", "Blocking", "Detail"];
  return (
    head + stopped + (v.checks.length ? table("All checks", header, v.checks.map(checkRow)) : "")
  );
}

function metricsHtml(data: CardData): string {
  const rows = sortedRows(data.metrics ?? []);
  if (!rows.length) return "";
  const candidate = rows.find((r) => r.kind === "model");
  const production = rows.find((r) => r.kind === "production");
  const header = [
    "Recommender",
    "Role",
    ...RANKING_METRICS.map((m) => m.label),
    ...SHARE_METRICS.map((m) => m.label),
    "n",
  ];
  const line = (r: MetricsRow): CellInput[] => [
    r.kind === "model"
      ? { text: `<strong>${esc(r.name)}</strong>`, sort: r.name, html: true }
      : r.name,
    ROLE_LABEL[r.kind],
    ...RANKING_METRICS.map((m) => n(r[m.key]?.value, estimate(r[m.key]))),
    ...SHARE_METRICS.map((m) => n(r[m.key], percent(r[m.key]))),
    n(r.hr20?.n ?? r.hr10?.n, int(r.hr20?.n ?? r.hr10?.n)),
  ];
  let html = table("Metrics with confidence intervals", header, rows.map(line));
  if (candidate && production) {
    const deltas = [
      ...RANKING_METRICS.map(
        (m) => `${m.label} ${delta(candidate[m.key]?.value, production[m.key]?.value)}`,
      ),
      ...SHARE_METRICS.map((m) => `${m.label} ${delta(candidate[m.key], production[m.key])}`),
    ];
    html += `<p>Candidate − production: ${esc(deltas.join(" · "))}</p>`;
  }
  const charted = rows.filter((r) => r.hr20 || r.mrr20);
  if (charted.length) {
    html += `<figure>${barChart({
      title: "HR@20 and MRR@20 by recommender",
      series: ["HR@20", "MRR@20"],
      groups: charted.map((r) => ({
        name: r.name,
        values: [r.hr20 ?? { value: NaN }, r.mrr20 ?? { value: NaN }],
      })),
      ...(candidate ? { highlight: candidate.name } : {}),
    })}<figcaption>Bars: point estimates; whiskers: confidence intervals.</figcaption></figure>`;
  }
  return html;
}

function historyHtml(data: CardData): string {
  const points = data.history ?? [];
  if (!points.length) return "";
  const chart = barChart({
    title: "HR@20: production models, then this candidate",
    series: ["HR@20"],
    groups: points.map((p) => ({ name: historyLabel(p), values: [p.hr20] })),
    highlight: "candidate",
  });
  const rows = points.map((p): CellInput[] => [
    p.kind === "candidate" ? `${p.runId} (candidate)` : p.runId,
    { text: p.promotedAt ?? "–", sort: p.promotedAt ?? "" },
    n(p.hr20.value, estimate(p.hr20)),
  ]);
  return (
    `<figure>${chart}<figcaption>${esc(historyCaption(points))} Whiskers: confidence intervals.</figcaption></figure>` +
    table("HR@20 by run", ["Run", "In production since", "HR@20"], rows)
  );
}

function candidateHtml(data: CardData): string {
  if (!data.candidate) return "";
  const { text, rows, adds } = candidateSummary(data.candidate);
  // The summary marks the name in markdown bold: the only markup it uses.
  const paragraph = esc(text).replace(/\*\*(.+?)\*\*/, "<strong>$1</strong>");
  const figures = rows.length
    ? table(
        "On the validation prefixes the blend was fitted on",
        ["Part", "HR@20", "MRR@20"],
        rows.map(([label, hr, mrr]): CellInput[] => [
          label,
          n(Number(hr), hr),
          n(Number(mrr), mrr),
        ]),
      )
    : "";
  return `<p>${paragraph}</p>${figures}${adds ? `<p>${esc(adds)}</p>` : ""}`;
}

function trainingHtml(data: CardData): string {
  const t = data.training;
  if (!t || !t.epochs.length) return "";
  const facts = [
    t.bestEpoch !== undefined ? `best epoch ${t.bestEpoch}` : "",
    t.stoppedEarly ? "stopped early" : "",
    t.backend ? `backend ${t.backend}` : "",
    t.compute ? `compute ${t.compute}` : "",
  ].filter(Boolean);
  const chart = lineChart({
    title: "Training loss and validation HR@20 per epoch",
    x: t.epochs.map((e) => e.epoch),
    xLabel: "epoch",
    series: [
      { name: "loss", values: t.epochs.map((e) => e.loss), axis: "left" },
      { name: "validation HR@20", values: t.epochs.map((e) => e.validationHr20), axis: "right" },
    ],
    ...(t.bestEpoch !== undefined ? { marker: { x: t.bestEpoch, label: "best" } } : {}),
  });
  const rows = t.epochs.map((e): CellInput[] => [
    n(e.epoch, String(e.epoch)),
    n(e.loss, num(e.loss, 4)),
    n(e.validationHr20, num(e.validationHr20)),
    n(e.seconds, seconds(e.seconds)),
    n(e.sequencesPerSecond, int(e.sequencesPerSecond)),
  ]);
  return (
    `<p>${esc(facts.join(" · "))}</p><figure>${chart}</figure>` +
    `<details><summary>Epochs (${t.epochs.length})</summary>${table("Epochs", ["Epoch", "Loss", "Validation HR@20", "Duration", "Examples/s"], rows)}</details>`
  );
}

const MAX_DRAWN_BOXES = 300;

function dagHtml(data: CardData): string {
  if (!data.dag || !data.dag.nodes.length) return "";
  const full = dagView(data.dag);
  // Past a few hundred boxes a drawing is unreadable (and too tall to screenshot): draw the
  // first layers' boxes and leave the rest to the table.
  const drawn = [...full.boxes].sort((a, b) => a.layer - b.layer).slice(0, MAX_DRAWN_BOXES);
  const ids = new Set(drawn.map((b) => b.id));
  const view = {
    ...full,
    boxes: drawn,
    edges: full.edges.filter(([p, c]) => ids.has(p) && ids.has(c)),
  };
  const note =
    drawn.length < full.boxes.length
      ? `<p>The drawing shows ${drawn.length} of ${full.boxes.length} sources and models; the table lists every node.</p>`
      : "";
  const rows = data.dag.nodes.map((node): CellInput[] => [
    node.name,
    node.type,
    node.materialized ?? "",
    n(node.rows, int(node.rows)),
    node.status ?? "not run",
    n(node.seconds, seconds(node.seconds)),
    node.message ?? "",
  ]);
  return (
    `<figure class="wide">${dagChart(view, "dbt DAG")}</figure>${note}` +
    `<details><summary>Nodes (${data.dag.nodes.length})</summary>${table("dbt nodes", ["Node", "Type", "Materialization", "Rows", "Status", "Duration", "Message"], rows)}</details>`
  );
}

function driftHtml(data: CardData): string {
  if (!data.drift) return "";
  return table(
    "Production traffic against the training data",
    ["Figure", "Value", "Reading"],
    driftRows(data.drift),
  );
}

function slicesHtml(data: CardData): string {
  let html = "";
  if (data.slices?.length) {
    html += table(
      "Slices",
      ["Recommender", "Dimension", "Bucket", "n", "HR@20"],
      data.slices.map((s) => [
        s.recommender ?? "candidate",
        s.dimension,
        s.bucket,
        n(s.n, int(s.n)),
        n(s.hr20, num(s.hr20)),
      ]),
    );
  }
  if (data.robustness?.length) {
    html += table(
      "Robustness",
      ["Verdict", "Perturbation", "Metric", "Clean", "Perturbed", "Δ", "Detail"],
      data.robustness.map((r) => [
        r.verdict ? { text: `${VERDICT_ICON[r.verdict]} ${r.verdict}`, sort: r.verdict } : "",
        r.name,
        r.metric,
        n(r.clean, num(r.clean)),
        n(r.perturbed, num(r.perturbed)),
        n(r.perturbed - r.clean, delta(r.perturbed, r.clean)),
        r.detail ?? "",
      ]),
    );
  }
  return html;
}

function dataHtml(data: CardData): string {
  const d = data.data;
  if (!d) return "";
  const facts: [string, string][] = [];
  if (d.source) facts.push(["Source", d.source]);
  if (d.rowsRead !== undefined) facts.push(["Rows read", int(d.rowsRead)]);
  if (d.rowsLoaded !== undefined) facts.push(["Rows loaded", int(d.rowsLoaded)]);
  if (d.rowsRejected !== undefined) facts.push(["Rows rejected", int(d.rowsRejected)]);
  for (const [split, count] of Object.entries(d.sessionsPerSplit ?? {}))
    facts.push([`Sessions (${split})`, int(count)]);
  if (d.vocabularySize !== undefined) facts.push(["Vocabulary (SKUs)", int(d.vocabularySize)]);
  if (d.unseenSkuShare !== undefined)
    facts.push(["Unseen-SKU share (test)", percent(d.unseenSkuShare, 2)]);
  let html = factList(facts);
  if (d.files?.length) {
    html += table(
      "Per file",
      ["File", "Read", "Loaded", "Rejected"],
      d.files.map((f) => [
        f.name,
        n(f.read, int(f.read)),
        n(f.loaded, int(f.loaded)),
        n(f.rejected, int(f.rejected)),
      ]),
    );
  }
  return html;
}

function factList(facts: [string, string][]): string {
  if (!facts.length) return "";
  return `<dl>${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
}

function runHtml(data: CardData): string {
  const r = data.run;
  const facts: [string, string][] = [["Run id", r.runId]];
  if (r.gitSha) facts.push(["Git sha", r.gitSha]);
  if (r.startedAt) facts.push(["Started", r.startedAt]);
  const backend = r.backend ?? data.training?.backend;
  const compute = r.compute ?? data.training?.compute;
  if (backend) facts.push(["Backend", backend]);
  if (compute) facts.push(["Compute", compute]);
  if (r.store) facts.push(["Run store", r.store]);
  if (r.failedStage) facts.push(["Stopped at", r.failedStage]);
  let html = factList(facts);
  if (r.stages?.length) {
    html += table(
      "Stages",
      ["Stage", "Status", "Duration"],
      r.stages.map((s) => [s.name, s.status ?? "–", n(s.seconds, seconds(s.seconds))]),
    );
  }
  html += r.configDiff?.length
    ? table(
        "Settings that differ from the defaults",
        ["Setting", "Value", "Default", "Set by"],
        r.configDiff.map((c) => [c.key, value(c.value), value(c.default), c.origin]),
      )
    : "<p>Configuration: all defaults.</p>";
  if (r.artifacts?.length) {
    html += `<h3>Artifacts</h3><ul>${r.artifacts
      .map((a) =>
        /^https?:\/\//.test(a.href)
          ? `<li><a href="${esc(a.href)}">${esc(a.name)}</a></li>`
          : `<li>${esc(a.name)}: <code>${esc(a.href)}</code></li>`,
      )
      .join("")}</ul>`;
  }
  return html;
}

const STYLE = `
body{font:14px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0 auto;max-width:1100px;padding:24px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
.verdict{font-size:18px;font-weight:600;padding:8px 12px;border-radius:6px}
.verdict.pass{background:#dafbe1}.verdict.fail{background:#ffebe9}.verdict.none{background:#f6f8fa}
table{border-collapse:collapse;margin:12px 0;font-variant-numeric:tabular-nums}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:" ▲"}th[aria-sort=descending]::after{content:" ▼"}
td.num{text-align:right;white-space:nowrap}
figure,.scroll{margin:12px 0;overflow-x:auto}figcaption{color:#57606a;font-size:12px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{color:#57606a}dd{margin:0}
code{font-size:12px}
`;

/** Click a header to sort by that column; again to reverse. Numbers sort by `data-sort`. */
const SCRIPT = `
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, column) {
    function sort() {
      var body = table.tBodies[0];
      var descending = th.getAttribute("aria-sort") === "ascending";
      table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      var rows = Array.prototype.slice.call(body.rows);
      function key(row) {
        var cell = row.cells[column];
        if (!cell) return "";
        var sortKey = cell.getAttribute("data-sort");
        if (sortKey !== null && sortKey !== "" && !isNaN(Number(sortKey))) return Number(sortKey);
        return sortKey !== null ? sortKey : cell.textContent;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
  });
});
`;

export function renderHtmlReport(data: CardData): string {
  const title = `Model card · run ${data.run.runId}`;
  const body = [
    section("verdict", "Verdict", verdictHtml(data)),
    section("metrics", "Metrics", metricsHtml(data)),
    section("history", "Against earlier production models", historyHtml(data)),
    section("candidate", "The candidate", candidateHtml(data)),
    section("training", "Training", trainingHtml(data)),
    section("dag", "dbt DAG", dagHtml(data)),
    section("slices", "Slices and robustness", slicesHtml(data)),
    section("drift", "Drift: production traffic", driftHtml(data)),
    section("data", "Data", dataHtml(data)),
    section("run", "Run", runHtml(data)),
  ].join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${esc(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(title)}</h1>
${body}
<script>${SCRIPT}</script>
</body>
</html>
`;
}
