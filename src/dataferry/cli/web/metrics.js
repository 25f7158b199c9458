// #/run/ID/metrics: each step's scalars (a table), series (small SVG line charts),
// tables and images (served from the run's files); live while the run logs.
import { api, h, esc, table } from "/ui/kit.js";

const NS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs) => {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
};

export function lineChart(name, values) {
  const W = 240, H = 120, P = 24, nums = values.map(Number).filter(Number.isFinite);
  const lo = Math.min(...nums), hi = Math.max(...nums), span = hi - lo || 1;
  const x = (i) => P + (i * (W - 2 * P)) / Math.max(1, values.length - 1);
  const y = (v) => H - P - ((v - lo) * (H - 2 * P)) / span;
  const chart = svg("svg", { width: W, height: H, class: "chart", "data-name": name });
  const pts = values.map((v, i) => (Number.isFinite(Number(v)) ? `${x(i)},${y(Number(v))}` : null)).filter(Boolean);
  chart.append(svg("polyline", { points: pts.join(" "), fill: "none", stroke: "#1565c0", "stroke-width": 2 }));
  const label = svg("text", { x: P, y: 14 });
  label.textContent = `${name} (${lo}…${hi})`;
  chart.append(label);
  return chart;
}

// live(again, on): re-drawn on this run's metrics events and its steps' ends
export async function metricsView(view, id, live) {
  const draw = () => drawMetrics(view, id);
  live(draw, (e) => e.run_id === id && ["metrics", "step_status", "run_status"].includes(e.kind));
  await draw();
}

async function drawMetrics(view, id) {
  const groups = await api(`/api/runs/${esc(id)}/metrics`);
  const parts = [h("h2", {}, h("a", { href: `#/run/${esc(id)}` }, id), " / metrics")];
  if (!groups.length) parts.push(h("p", {}, "This run logged no metrics."));
  for (const g of groups) {
    parts.push(h("h3", {}, g.step ?? "run"));
    if (g.scalars.length) parts.push(table("scalars", ["Metric", "Value"], g.scalars.map((s) => [s.name, s.value])));
    if (g.series.length) parts.push(h("div", { className: "charts" }, ...g.series.map((s) => lineChart(s.name, s.values))));
    for (const t of g.tables) {
      const cols = Object.keys(t.columns), n = Math.max(...cols.map((c) => t.columns[c].length));
      parts.push(h("h4", {}, t.name), table("metric-table", cols, [...Array(n).keys()].map((i) => cols.map((c) => t.columns[c][i]))));
    }
    for (const im of g.images) {
      parts.push(h("figure", {}, h("img", { src: `/api/runs/${esc(id)}/files/${esc(im.owner)}/${im.file.split("/").map(esc).join("/")}`, alt: im.name, className: "metric-image" }), h("figcaption", {}, im.name)));
    }
  }
  view.replaceChildren(...parts);
}
