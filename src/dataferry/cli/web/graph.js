// A run's graph as SVG. Layout: layered by longest path from the sources (the graph
// is a DAG), each layer ordered by its predecessors' mean position: enough for
// pipelines, and no library to fetch or build.
export const COLOURS = {
  Finished: "#66bb6a", Failed: "#ef5350", Running: "#42a5f5", Preparing: "#90caf9",
  Queued: "#e0e0e0", NotStarted: "#f5f5f5", Canceled: "#bdbdbd", CancelRequested: "#bdbdbd",
};
export const W = 200, H = 56, GAP_X = 60, GAP_Y = 24;

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

// a committed output's size: 4 B, 1.5 KiB, 2.0 MiB...
export function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}

export function el(name, attrs = {}, text) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

export const WORKER_ABOVE = 50; // nodes: the layout leaves the main thread
export const TABLE_ABOVE = 500; // nodes: a table is shown instead (with a toggle)
const nodeKeys = (graph) => [...graph.steps.map((s) => s.key), ...graph.data.map((d) => d.key)];
export const nodeCount = (graph) => graph.steps.length + graph.data.length;

// the positions of a graph's nodes; above WORKER_ABOVE nodes computed by a Web
// Worker running this same layout, so the page stays responsive meanwhile
export function placeGraph(graph) {
  const keys = nodeKeys(graph);
  if (keys.length <= WORKER_ABOVE || typeof Worker === "undefined") return Promise.resolve(layout(keys, graph.edges));
  return new Promise((resolve, reject) => {
    const worker = new Worker("/ui/layout_worker.js", { type: "module" });
    worker.onmessage = (e) => { worker.terminate(); resolve(e.data); };
    worker.onerror = (e) => { worker.terminate(); reject(new Error(`graph layout failed: ${e.message}`)); };
    worker.postMessage({ keys, edges: graph.edges });
  });
}

// the step's reuse decision with its reason, in the run feed's words: "reused from
// run ...", or why it ran ("rerun: input 'x' changed: ...", "run: first run ...")
function reuseReason(s, view) {
  return view.explanation || (s.reused_from ? `reused from step run ${s.reused_from}` : "");
}

// the steps as a table (status, duration, reuse): what a graph above TABLE_ABOVE
// nodes shows first
export function stepTable(graph, details, onStep) {
  const row = (s) => {
    const tr = document.createElement("tr");
    tr.className = "step-row"; tr.dataset.name = s.name; tr.dataset.status = s.status || "NotStarted";
    const reuse = reuseReason(s, details.get(s.key) || {});
    for (const text of [s.name, s.status || "NotStarted", seconds(s.duration_s), reuse]) tr.append(Object.assign(document.createElement("td"), { textContent: text }));
    tr.cells[1].style.background = COLOURS[s.status || "NotStarted"] || "#fff";
    tr.onclick = () => onStep(s.name);
    return tr;
  };
  const t = document.createElement("table"); t.id = "step-table";
  t.innerHTML = "<thead><tr><th>Step</th><th>Status</th><th>Duration</th><th>Reuse</th></tr></thead>";
  const body = document.createElement("tbody"); body.append(...graph.steps.map(row)); t.append(body);
  return t;
}

// an SVG sized to the placed nodes, with its arrow marker and the edges drawn
export function canvas(edges, pos, id) {
  let width = 0, height = 0;
  for (const p of pos.values()) { width = Math.max(width, p.x + W + 10); height = Math.max(height, p.y + H + 10); }
  const svg = el("svg", { width, height, id });
  const defs = el("defs");
  const marker = el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" });
  marker.append(el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#888" }));
  defs.append(marker); svg.append(defs);
  for (const [a, b] of edges) {
    const p = pos.get(a), q = pos.get(b);
    if (p && q) svg.append(el("path", { class: "edge", d: `M${p.x + W},${p.y + H / 2} C${p.x + W + GAP_X / 2},${p.y + H / 2} ${q.x - GAP_X / 2},${q.y + H / 2} ${q.x},${q.y + H / 2}` }));
  }
  return svg;
}

// graph: {steps, data, edges}; details: step key -> step view (explanation...);
// pos: the nodes' positions (placeGraph), computed here if not given
export function drawGraph(graph, details, onStep, pos = layout(nodeKeys(graph), graph.edges)) {
  const svg = canvas(graph.edges, pos, "graph");
  for (const d of graph.data) {
    const p = pos.get(d.key), g = el("g", { class: "data", "data-key": d.key, transform: `translate(${p.x},${p.y})` });
    const size = d.size_bytes == null ? "" : ` · ${bytes(d.size_bytes)}`;
    g.append(el("rect", { width: W, height: H, rx: 12 }), el("text", { x: 8, y: 22 }, d.label), el("text", { x: 8, y: 42, fill: "#666", class: "data-detail" }, `${d.kind}: ${d.detail}${size}`));
    svg.append(g);
  }
  for (const s of graph.steps) {
    const p = pos.get(s.key);
    const status = s.status || "NotStarted";
    const g = el("g", { class: "step", "data-name": s.name, "data-status": status, transform: `translate(${p.x},${p.y})` });
    const reuse = reuseReason(s, details.get(s.key) || {});
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
