/**
 * Charts for the HTML report as inline SVG generated here, so the report opens with no network
 * and no chart library: a line chart with a left and a right axis (training loss and validation
 * HR@20 differ in scale), grouped bars with confidence-interval whiskers, and the dbt DAG as
 * layered boxes.
 */
import { boxState, tallyText, type DagView } from "./dag-view.ts";
import { int } from "./format.ts";

export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const COLORS = ["#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df"];
const FONT = `font-family="system-ui, sans-serif" font-size="12"`;

/** Round axis bounds and ticks: 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max <= min) max = min + (min === 0 ? 1 : Math.abs(min));
  const raw = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const start = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let t = start; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if ((ticks[ticks.length - 1] ?? min) < max)
    ticks.push(Number((start + ticks.length * step).toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  return String(Number(v.toPrecision(4)));
}

export interface LineSeries {
  name: string;
  values: number[];
  axis: "left" | "right";
}

export interface LineChartSpec {
  title: string;
  x: number[];
  xLabel: string;
  series: LineSeries[];
  /** An x value to mark with a dashed line (the best epoch). */
  marker?: { x: number; label: string };
}

export function lineChart(spec: LineChartSpec): string {
  const width = 640;
  const height = 300;
  const pad = { left: 56, right: 56, top: 36, bottom: 48 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const xMin = Math.min(...spec.x);
  const xMax = Math.max(...spec.x);
  const xs = (x: number) =>
    pad.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const axes = new Map<"left" | "right", number[]>();
  for (const side of ["left", "right"] as const) {
    const values = spec.series
      .filter((s) => s.axis === side)
      .flatMap((s) => s.values)
      .filter(Number.isFinite);
    if (values.length) axes.set(side, niceTicks(Math.min(0, ...values), Math.max(...values)));
  }
  const scale = (side: "left" | "right") => {
    const ticks = axes.get(side) ?? [0, 1];
    const lo = ticks[0] as number;
    const hi = ticks[ticks.length - 1] as number;
    return (v: number) => pad.top + plotH - ((v - lo) / (hi - lo || 1)) * plotH;
  };
  const parts: string[] = [];
  for (const [side, ticks] of axes) {
    const ys = scale(side);
    const x = side === "left" ? pad.left - 6 : width - pad.right + 6;
    const anchor = side === "left" ? "end" : "start";
    for (const t of ticks) {
      if (side === "left") {
        parts.push(
          `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ys(t)}" y2="${ys(t)}" stroke="#d0d7de" stroke-width="1"/>`,
        );
      }
      parts.push(
        `<text x="${x}" y="${ys(t) + 4}" text-anchor="${anchor}" fill="#57606a">${label(t)}</text>`,
      );
    }
  }
  const xTicks =
    spec.x.length <= 12 ? spec.x : niceTicks(xMin, xMax, 8).filter((t) => t >= xMin && t <= xMax);
  for (const t of xTicks) {
    parts.push(
      `<text x="${xs(t)}" y="${height - pad.bottom + 16}" text-anchor="middle" fill="#57606a">${label(t)}</text>`,
    );
  }
  parts.push(
    `<text x="${pad.left + plotW / 2}" y="${height - 10}" text-anchor="middle" fill="#57606a">${escapeXml(spec.xLabel)}</text>`,
  );
  if (spec.marker && spec.marker.x >= xMin && spec.marker.x <= xMax) {
    const mx = xs(spec.marker.x);
    parts.push(
      `<line class="marker" x1="${mx}" x2="${mx}" y1="${pad.top}" y2="${pad.top + plotH}" stroke="#57606a" stroke-dasharray="4 3"/>`,
    );
    parts.push(
      `<text x="${mx + 4}" y="${pad.top + 12}" fill="#57606a">${escapeXml(spec.marker.label)}</text>`,
    );
  }
  spec.series.forEach((s, i) => {
    const ys = scale(s.axis);
    const color = COLORS[i % COLORS.length] as string;
    const points = s.values
      .map((v, j) => [spec.x[j], v] as const)
      .filter((p): p is readonly [number, number] => p[0] !== undefined && Number.isFinite(p[1]));
    const d = points
      .map(([x, v], j) => `${j ? "L" : "M"}${xs(x).toFixed(1)},${ys(v).toFixed(1)}`)
      .join(" ");
    parts.push(
      `<path class="series" data-series="${escapeXml(s.name)}" d="${d}" fill="none" stroke="${color}" stroke-width="2"/>`,
    );
    if (points.length <= 60) {
      for (const [x, v] of points) {
        parts.push(
          `<circle cx="${xs(x).toFixed(1)}" cy="${ys(v).toFixed(1)}" r="3" fill="${color}"><title>${escapeXml(`${s.name} @ ${label(x)}: ${label(v)}`)}</title></circle>`,
        );
      }
    }
    const lx = pad.left + i * 200;
    parts.push(`<rect x="${lx}" y="10" width="12" height="12" fill="${color}"/>`);
    parts.push(
      `<text x="${lx + 16}" y="20" fill="#1f2328">${escapeXml(`${s.name} (${s.axis} axis)`)}</text>`,
    );
  });
  return svg(spec.title, width, height, parts);
}

export interface BarGroup {
  name: string;
  /** One value per series; `low`/`high` draw a whisker. */
  values: { value: number; low?: number; high?: number }[];
}

export interface BarChartSpec {
  title: string;
  series: string[];
  groups: BarGroup[];
  /** Groups to highlight (the candidate). */
  highlight?: string;
}

export function barChart(spec: BarChartSpec): string {
  const groupW = Math.max(48, spec.series.length * 22 + 20);
  const pad = { left: 56, right: 20, top: 36, bottom: 72 };
  const width = Math.max(360, pad.left + pad.right + spec.groups.length * groupW);
  const height = 320;
  const plotH = height - pad.top - pad.bottom;
  const all = spec.groups.flatMap((g) => g.values.flatMap((v) => [v.value, v.high ?? v.value]));
  const ticks = niceTicks(0, Math.max(0, ...all.filter(Number.isFinite)));
  const hi = ticks[ticks.length - 1] as number;
  const ys = (v: number) => pad.top + plotH - (v / (hi || 1)) * plotH;
  const parts: string[] = [];
  for (const t of ticks) {
    parts.push(
      `<line x1="${pad.left}" x2="${width - pad.right}" y1="${ys(t)}" y2="${ys(t)}" stroke="#d0d7de"/>`,
    );
    parts.push(
      `<text x="${pad.left - 6}" y="${ys(t) + 4}" text-anchor="end" fill="#57606a">${label(t)}</text>`,
    );
  }
  const barW = 18;
  spec.groups.forEach((group, g) => {
    const x0 = pad.left + g * groupW + (groupW - spec.series.length * (barW + 4)) / 2;
    group.values.forEach((v, s) => {
      if (!Number.isFinite(v.value)) return;
      const x = x0 + s * (barW + 4);
      const color = COLORS[s % COLORS.length] as string;
      const y = ys(Math.max(0, v.value));
      const h = Math.max(1, ys(0) - y);
      const tip = `${group.name} ${spec.series[s] ?? ""}: ${label(v.value)}${
        v.low !== undefined && v.high !== undefined ? ` [${label(v.low)}, ${label(v.high)}]` : ""
      }`;
      parts.push(
        `<rect class="bar" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW}" height="${h.toFixed(1)}" fill="${color}" opacity="${spec.highlight && spec.highlight !== group.name ? 0.6 : 1}"><title>${escapeXml(tip)}</title></rect>`,
      );
      if (v.low !== undefined && v.high !== undefined) {
        const cx = x + barW / 2;
        parts.push(
          `<path d="M${cx},${ys(v.low).toFixed(1)} V${ys(v.high).toFixed(1)} M${cx - 4},${ys(v.low).toFixed(1)} h8 M${cx - 4},${ys(v.high).toFixed(1)} h8" stroke="#1f2328" fill="none"/>`,
        );
      }
    });
    const cx = pad.left + g * groupW + groupW / 2;
    const weight = spec.highlight === group.name ? ` font-weight="bold"` : "";
    parts.push(
      `<text x="${cx}" y="${height - pad.bottom + 14}" text-anchor="end" transform="rotate(-30 ${cx} ${height - pad.bottom + 14})" fill="#1f2328"${weight}>${escapeXml(group.name)}</text>`,
    );
  });
  spec.series.forEach((name, s) => {
    const lx = pad.left + s * 120;
    parts.push(
      `<rect x="${lx}" y="10" width="12" height="12" fill="${COLORS[s % COLORS.length]}"/>`,
    );
    parts.push(`<text x="${lx + 16}" y="20" fill="#1f2328">${escapeXml(name)}</text>`);
  });
  return svg(spec.title, width, height, parts);
}

const STATE_STYLE = {
  pass: { fill: "#dafbe1", stroke: "#1a7f37" },
  warn: { fill: "#fff8c5", stroke: "#9a6700" },
  fail: { fill: "#ffebe9", stroke: "#d1242f" },
  none: { fill: "#f6f8fa", stroke: "#8c959f" },
} as const;

/** Boxes in columns by layer, edges as curves from a box's right side to its child's left. */
export function dagChart(view: DagView, title: string): string {
  const boxW = 190;
  const boxH = 58;
  const gapX = 70;
  const gapY = 16;
  const columns: DagView["boxes"][] = Array.from({ length: Math.max(view.layers, 1) }, () => []);
  for (const box of view.boxes) columns[box.layer]?.push(box);
  const position = new Map<string, { x: number; y: number }>();
  columns.forEach((column, layer) => {
    column.forEach((box, row) => {
      position.set(box.id, { x: 16 + layer * (boxW + gapX), y: 16 + row * (boxH + gapY) });
    });
  });
  const tallest = Math.max(1, ...columns.map((c) => c.length));
  const width = 32 + columns.length * boxW + (columns.length - 1) * gapX;
  const height = 32 + tallest * boxH + (tallest - 1) * gapY;
  const parts: string[] = [];
  for (const [parent, child] of view.edges) {
    const p = position.get(parent);
    const c = position.get(child);
    if (!p || !c) continue;
    const x1 = p.x + boxW;
    const y1 = p.y + boxH / 2;
    const x2 = c.x;
    const y2 = c.y + boxH / 2;
    const mid = (x1 + x2) / 2;
    parts.push(
      `<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2 - 6},${y2}" fill="none" stroke="#8c959f" marker-end="url(#arrow)"/>`,
    );
  }
  for (const box of view.boxes) {
    const at = position.get(box.id);
    if (!at) continue;
    const style = STATE_STYLE[boxState(box)];
    const facts = [
      box.type === "source" ? "source" : (box.materialized ?? "model"),
      box.rows !== undefined ? `${int(box.rows)} rows` : "",
    ]
      .filter(Boolean)
      .join(" · ");
    const name = box.name.length > 26 ? `${box.name.slice(0, 25)}…` : box.name;
    parts.push(
      `<g class="node"><title>${escapeXml(`${box.id}${box.status ? ` (${box.status})` : ""}`)}</title>` +
        `<rect x="${at.x}" y="${at.y}" width="${boxW}" height="${boxH}" rx="${box.type === "source" ? 14 : 4}" fill="${style.fill}" stroke="${style.stroke}"/>` +
        `<text x="${at.x + 8}" y="${at.y + 17}" font-weight="bold" fill="#1f2328">${escapeXml(name)}</text>` +
        `<text x="${at.x + 8}" y="${at.y + 33}" fill="#57606a">${escapeXml(facts)}</text>` +
        `<text x="${at.x + 8}" y="${at.y + 49}" fill="#57606a">${escapeXml(tallyText(box.tests))}</text></g>`,
    );
  }
  const defs = `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8c959f"/></marker></defs>`;
  return svg(title, width, height, [defs, ...parts]);
}

function svg(title: string, width: number, height: number, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ${FONT}><title>${escapeXml(title)}</title>${parts.join("")}</svg>`;
}
