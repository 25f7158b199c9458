// A run's timeline (Gantt): one row per step run, one bar per status it held, from
// /api/runs/ID/timeline (rebuilt from the run's events). Preparing is a bar of its
// own; a reused step is marked. A bar still open ends at "now" and grows live.
import { COLOURS } from "/ui/graph.js";
import { api, esc, h } from "/ui/kit.js";

const ROW = 22, LABEL = 180, WIDTH = 900;
const svg = (name, attrs = {}, text) => {
  const e = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
};

export function drawTimeline(timeline, now = Date.now()) {
  const t = (s) => (s == null ? now : Date.parse(s));
  const bars = timeline.steps.flatMap((s) => s.segments);
  const t0 = Math.min(...bars.map((b) => t(b.start)), now), t1 = Math.max(...bars.map((b) => t(b.end)), t0 + 1);
  const x = (ms) => LABEL + ((ms - t0) / (t1 - t0)) * (WIDTH - LABEL - 10);
  const root = svg("svg", { id: "timeline", width: WIDTH, height: (timeline.steps.length + 1) * ROW + 10 });
  root.append(svg("text", { x: LABEL, y: 14, fill: "#666" }, `0 s`), svg("text", { x: WIDTH - 80, y: 14, fill: "#666" }, `${((t1 - t0) / 1000).toFixed(1)} s`));
  timeline.steps.forEach((s, i) => {
    const y = (i + 1) * ROW;
    const row = svg("g", { class: "timeline-step", "data-name": s.name, "data-reused": String(s.reused) });
    row.append(svg("text", { x: 4, y: y + 14 }, s.reused ? `${s.name} (reused)` : s.name));
    for (const b of s.segments) {
      const from = x(t(b.start)), to = Math.max(x(t(b.end)), from + 2);
      const bar = svg("rect", { class: "segment", "data-status": b.status, x: from, y: y + 3, width: to - from, height: ROW - 6, fill: COLOURS[b.status] || "#ccc" });
      const seconds = ((t(b.end) - t(b.start)) / 1000).toFixed(2);
      bar.append(svg("title", {}, `${s.name}: ${b.status} ${seconds} s${s.reused && s.explanation ? ` · ${s.explanation}` : ""}`));
      row.append(bar);
    }
    root.append(row);
  });
  return root;
}

export async function timelineView(view, id, setRefresh) {
  const holder = h("div", { id: "timeline-holder" });
  view.replaceChildren(h("h2", {}, h("a", { href: `#/run/${esc(id)}` }, id), " / timeline"), holder);
  const refresh = async () => holder.replaceChildren(drawTimeline(await api(`/api/runs/${esc(id)}/timeline`)));
  setRefresh(refresh);
  await refresh();
}
