// Two runs' graphs merged (/api/compare's `graph`): every step and data node marked
// same, changed (its reasons in the node and its tooltip), added or removed. Laid out
// by the run graph's own layout (placeGraph: a Web Worker above 50 nodes).
import { H, W, canvas, el, placeGraph } from "/ui/graph.js";

export const MARKS = { same: "#f5f5f5", changed: "#ffe082", added: "#a5d6a7", removed: "#ef9a9a" };
const cut = (text, n) => (text.length > n ? text.slice(0, n - 1) + "…" : text);

function node(kind, n, pos, lines) {
  const p = pos.get(n.key);
  const g = el("g", { class: `diff-${kind} diff-${n.change}`, "data-name": n.name ?? n.key, "data-change": n.change, transform: `translate(${p.x},${p.y})` });
  g.append(el("rect", { width: W, height: H, rx: kind === "step" ? 4 : 12, fill: MARKS[n.change] || "#fff" }));
  lines.forEach((text, i) => g.append(el("text", { x: 8, y: 18 + 16 * i, "font-weight": i ? "normal" : "bold" }, cut(text, 30))));
  if (n.reasons.length) g.append(el("title", {}, n.reasons.join("\n")));
  return g;
}

// diff: {steps, data, edges}; returns the SVG (#graph-diff) once laid out
export async function drawDiff(diff) {
  const pos = await placeGraph(diff);
  const svg = canvas(diff.edges, pos, "graph-diff");
  for (const d of diff.data) svg.append(node("data", d, pos, [d.label, `${d.kind} · ${d.change}`, d.reasons.join("; ")]));
  for (const s of diff.steps) {
    const statuses = `${s.left_status ?? "—"} → ${s.right_status ?? "—"}`;
    svg.append(node("step", s, pos, [s.name, `${s.change} · ${statuses}`, s.reasons.join("; ")]));
  }
  return svg;
}

// what each colour means, drawn above the diff
export const legend = () => {
  const box = document.createElement("p");
  box.id = "diff-legend";
  for (const [mark, colour] of Object.entries(MARKS)) {
    const swatch = Object.assign(document.createElement("span"), { className: "swatch", textContent: mark });
    swatch.style.background = colour;
    box.append(swatch, " ");
  }
  return box;
};
