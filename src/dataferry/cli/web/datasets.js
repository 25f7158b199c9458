// #/datasets (the list) and #/dataset/NAME[/VERSION]: versions, schema, a preview of
// the first rows, the per-column profile (computed on demand) and lineage.
import { api, h, esc, table } from "/ui/kit.js";

// a version registered (by a run's step, or outside a run) while the page is open
const registered = (e) => e.kind === "registered";

// live(again, on): the page calls `again` on each feed event `on` accepts
export async function datasetsView(view, live) {
  const draw = async () => {
    const all = await api("/api/datasets");
    view.replaceChildren(h("h2", {}, "Datasets"), table("datasets", ["Name", "Latest version", "Type", "Created"],
      all.map((d) => [h("a", { href: `#/dataset/${esc(d.name)}` }, d.name), d.latest_version, d.kind, d.created_at])));
  };
  live(draw, registered);
  await draw();
}

export async function datasetView(view, name, version, live) {
  const q = `?version=${esc(version)}`, base = `/api/datasets/${esc(name)}`;
  const [versions, schema, lineage] = await Promise.all([api(`${base}/versions`), api(`${base}/schema${q}`), api(`${base}/lineage${q}`)]);
  const pick = h("select", { id: "version" });
  const fill = (all) => {
    pick.replaceChildren(...all.map((v) => h("option", { value: v.version }, `version ${v.version}`)));
    pick.value = String(schema.version);
  };
  fill(versions);
  pick.onchange = () => { location.hash = `#/dataset/${esc(name)}/${pick.value}`; };
  const parts = [h("h2", {}, h("a", { href: "#/datasets" }, "Datasets"), ` / ${name} `, pick), lineageBlock(lineage)];
  if (schema.kind === "File") {
    parts.push(h("p", { id: "schema" }, `${schema.file_count} file(s), ${schema.total_bytes} bytes`));
  } else {
    parts.push(h("h3", {}, "Schema"), table("schema", ["Column", "Type"], schema.columns));
    const rows = h("input", { id: "rows", type: "number", min: 1, max: 1000, value: 20 });
    const holder = h("div", { id: "preview-holder" }), profile = h("div", { id: "profile-holder" });
    const load = async () => {
      const p = await api(`${base}/preview${q}&rows=${esc(rows.value)}`);
      holder.replaceChildren(table("preview", p.columns.map((c) => c[0]), p.rows));
    };
    rows.onchange = () => load().catch((e) => holder.replaceChildren(h("p", { className: "error" }, e.message)));
    const profiler = h("button", { id: "profile" }, "Profile");
    profiler.onclick = async () => {
      profiler.disabled = true;
      const p = await api(`${base}/profile${q}`);
      profile.replaceChildren(h("p", {}, `${p.rows} row(s)${p.cached ? " · cached" : ""}`),
        table("profile-table", ["Column", "Type", "Values", "Nulls", "Min", "Max", "Top values"],
          p.columns.map((c) => [c.name, c.type, c.count, c.nulls, c.min, c.max, c.top.map(([v, n]) => `${v} (${n})`).join(", ")])));
      profiler.disabled = false;
    };
    parts.push(h("h3", {}, "Preview"), h("div", {}, "Rows ", rows), holder, h("h3", {}, "Profile"), profiler, profile);
    await load();
  }
  view.replaceChildren(...parts);
  // live: a new version joins the picker, and the lineage gains the runs that read
  // this one (the version shown, its preview and profile stay as they are)
  live(async () => {
    const [all, now] = await Promise.all([api(`${base}/versions`), api(`${base}/lineage${q}`)]);
    fill(all);
    document.getElementById("lineage")?.replaceWith(lineageBlock(now));
  }, (e) => (registered(e) && e.payload.dataset === name) || e.kind === "step_status");
}

function lineageBlock(l) {
  const run = (id) => h("a", { href: `#/run/${esc(id)}`, className: "run-link" }, id);
  const made = l.produced_by
    ? h("span", {}, "made by run ", run(l.produced_by.run_id), `, step ${l.produced_by.step_name}`)
    : h("span", {}, "registered outside a run");
  const reads = l.read_by.length
    ? table("readers", ["Run", "Step", "Input", "Reused from"], l.read_by.map((r) => [run(r.run_id), r.step_name, r.input_name, r.reused_from]))
    : h("p", {}, "no run has read it");
  return h("div", { id: "lineage" }, h("h3", {}, "Lineage"), h("p", {}, made), h("p", {}, "Read by:"), reads);
}
