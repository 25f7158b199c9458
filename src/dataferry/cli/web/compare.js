// Two runs compared (#/compare/A/B): their graphs merged with each node marked
// (graph_diff.js), the steps added, removed or changed (with the reasons the reuse
// fingerprints give), then parameter, input-version, code-file and
// metric differences, from /api/compare.
import { api, esc, h, table } from "/ui/kit.js";
import { drawDiff, legend } from "/ui/graph_diff.js";

const show = (v) => (v == null ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v));
const changes = (id, rows) => table(id, ["", "Left", "Right"], rows.map((c) => [c.key, show(c.left), show(c.right)]));

export async function compareView(view, left, right) {
  const c = await api(`/api/compare?left=${esc(left)}&right=${esc(right)}`);
  const steps = table("compare-steps", ["Step", "Change", "Why"], c.steps.map((s) => [s.name, s.change, s.reasons.join("; ")]));
  for (const [i, s] of c.steps.entries()) steps.tBodies[0].rows[i].className = `change-${s.change}`;
  const section = (title, rows, node) => [h("h3", {}, title), rows.length ? node : h("p", { className: "same" }, "no differences")];
  view.replaceChildren(
    h("h2", {}, "Compare ", h("a", { href: `#/run/${esc(left)}` }, left), " → ", h("a", { href: `#/run/${esc(right)}` }, right)),
    h("h3", {}, "Graph"), legend(), h("div", { id: "diff-holder" }, await drawDiff(c.graph)),
    h("h3", {}, "Steps"), steps,
    ...section("Parameters", c.parameters, changes("compare-parameters", c.parameters)),
    ...section("Input dataset versions", c.inputs, changes("compare-inputs", c.inputs)),
    ...section("Code snapshot files", c.files, table("compare-files", ["Step", "File", "Change"], c.files.map((f) => [f.step, f.path, f.change]))),
    ...section("Metrics", c.metrics, changes("compare-metrics", c.metrics)));
}
