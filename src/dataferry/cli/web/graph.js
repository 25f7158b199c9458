// A run's graph as SVG. Layout: layered by longest path from the sources (the graph
// is a DAG), each layer ordered by its predecessors' mean position: enough for
// pipelines, and no library to fetch or build.
export const COLOURS = {
  Finished: "#66bb6a", Failed: "#ef5350", Running: "#42a5f5", Preparing: "#90caf9",
  Queued: "#e0e0e0", NotStarted: "#f5f5f5", Canceled: "#bdbdbd", CancelRequested: "#bdbdbd",
};
const W = 200, H = 56, GAP_X = 60, GAP_Y = 24;

export function layout(keys, edges) {
  const preds = new Map(keys.map((k) => [k, []]));
  const succs = new Map(keys.map((k) => [k, []]));
  for (const [a, b] of edges) { if (preds.has(b) && succs.has(a)) { preds.get(b).push(a); succs.get(a).push(b); } }
  const layer = new Map(), waiting = new Map(keys.map((k) => [k, preds.get(k).length]));
  const ready = keys.filter((k) => waiting.get(k) === 0);
  ready.forEach((k) => layer.set(k, 0));
  while (ready.length) {
    const k = ready.shift();
    for (const s of succs.get(k)) {
      layer.set(s, Math.max(layer.get(s) ?? 0, layer.get(k) + 1));
      waiting.set(s, waiting.get(s) - 1);
      if (waiting.get(s) === 0) ready.push(s);
    }
  }
  const layers = [];
  for (const k of keys) { const l = layer.get(k) ?? 0; (layers[l] ??= []).push(k); }
  const pos = new Map();
  layers.forEach((ks, l) => {
    const mean = (k) => { const p = preds.get(k).map((q) => pos.get(q)?.y ?? 0); return p.length ? p.reduce((a, b) => a + b) / p.length : 0; };
    ks.sort((a, b) => mean(a) - mean(b));
    ks.forEach((k, i) => pos.set(k, { x: l * (W + GAP_X) + 10, y: i * (H + GAP_Y) + 10 }));
  });
  return pos;
}

function seconds(s) {
  if (s == null) return "";
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function el(name, attrs = {}, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

// graph: {steps, data, edges}; details: step key -> step view (explanation...)
export function drawGraph(graph, details, onStep) {
  const keys = [...graph.steps.map((s) => s.key), ...graph.data.map((d) => d.key)];
  const pos = layout(keys, graph.edges);
  let width = 0, height = 0;
  for (const p of pos.values()) { width = Math.max(width, p.x + W + 10); height = Math.max(height, p.y + H + 10); }
  const svg = el("svg", { width, height, id: "graph" });
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#888" }));
  defs.append(marker); svg.append(defs);
  for (const [a, b] of graph.edges) {
    const p = pos.get(a), q = pos.get(b);
    if (p && q) svg.append(el("path", { class: "edge", d: `M${p.x + W},${p.y + H / 2} C${p.x + W + GAP_X / 2},${p.y + H / 2} ${q.x - GAP_X / 2},${q.y + H / 2} ${q.x},${q.y + H / 2}` }));
  }
  for (const d of graph.data) {
    const p = pos.get(d.key), g = el("g", { class: "data", "data-key": d.key, transform: `translate(${p.x},${p.y})` });
    g.append(el("rect", { width: W, height: H, rx: 12 }), el("text", { x: 8, y: 22 }, d.label), el("text", { x: 8, y: 42, fill: "#666" }, `${d.kind}: ${d.detail}`));
    svg.append(g);
  }
  for (const s of graph.steps) {
    const p = pos.get(s.key), view = details.get(s.key) || {};
    const status = s.status || "NotStarted";
    const g = el("g", { class: "step", "data-name": s.name, "data-status": status, transform: `translate(${p.x},${p.y})` });
    const reuse = s.reused_from ? `reused: ${view.explanation || s.reused_from}` : "";
    g.append(el("rect", { width: W, height: H, rx: 4, fill: COLOURS[status] || "#fff" }),
      el("text", { x: 8, y: 18, "font-weight": "bold" }, s.name),
      el("text", { x: 8, y: 34 }, `${status} ${seconds(s.duration_s)}`),
      el("text", { x: 8, y: 50, fill: "#333" }, reuse.length > 32 ? reuse.slice(0, 31) + "…" : reuse));
    if (reuse) g.append(el("title", {}, reuse));
    g.addEventListener("click", () => onStep(s.name));
    svg.append(g);
  }
  return svg;
}
