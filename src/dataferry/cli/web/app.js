// The dataferry page: #/ (runs), #/run/ID (graph), #/run/ID/step/NAME (logs),
// #/run/ID/metrics, #/run/ID/timeline (timeline.js), #/compare/A/B (compare.js),
// #/datasets and #/dataset/NAME[/VERSION] (datasets.js, metrics.js).
// Live: one EventSource on /api/stream; each event re-reads what the view shows.
import { TABLE_ABOVE, drawGraph, nodeCount, placeGraph, stepTable } from "/ui/graph.js";
import { compareView } from "/ui/compare.js";
import { timelineView } from "/ui/timeline.js";
import { datasetView, datasetsView } from "/ui/datasets.js";
import { metricsView } from "/ui/metrics.js";

const root = document.getElementById("view");
let generation = 0;
// what a view draws into: the page's view, for the latest route only (a slow view that
// finishes after the user moved on must not replace the newer one)
let view = root;
const PAGE = 65536;
let refresh = () => {};
let timer = null;
let poll = null; // a running step's log grows without events: re-read it each second

const api = async (path) => {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
};
const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, attrs);
  e.append(...kids);
  return e;
};
const esc = encodeURIComponent;

// the views read the current state; the feed follows only the events after it
const newest = await api("/api/events/newest");
const feed = new EventSource(`/api/stream?after=${newest.id}`);
feed.onopen = () => document.getElementById("live").classList.add("on");
feed.onerror = () => document.getElementById("live").classList.remove("on");
// a run's metrics events are coalesced (one per second at most per writer: see
// catalog/metric_events.py), so a metrics event is read again once that window ended
const METRICS_WINDOW_MS = 1200;
let wants = () => true; // which events the view re-reads on (the data views choose)
let late = null;
feed.onmessage = (message) => {
  const event = JSON.parse(message.data);
  if (!wants(event)) return;
  clearTimeout(timer); timer = setTimeout(() => refresh(), 50);
  if (event.kind === "metrics") { clearTimeout(late); late = setTimeout(() => refresh(), METRICS_WINDOW_MS); }
};
// a data view's live part: `again` re-reads it on the events `on` accepts
const live = (again, on) => { refresh = again; wants = on; };

async function runsView() {
  const exp = h("select", { id: "experiment" }), st = h("select", { id: "status" });
  const search = h("input", { id: "search", type: "search", placeholder: "run id, experiment, description, tag" });
  const compare = h("button", { id: "compare", disabled: true }, "Compare");
  const note = h("span", { id: "runs-error", className: "error" });
  const body = h("tbody"), picked = [];
  view.replaceChildren(h("div", { className: "filters" }, "Experiment ", exp, "Status ", st, search, " ", compare, " ", note),
    h("table", { id: "runs" }, h("thead", {}, h("tr", {}, ...["", "Run", "Experiment", "Status", "Steps", "Duration"].map((t) => h("th", {}, t)))), body));
  const fill = (sel, values) => {
    const was = sel.value;
    sel.replaceChildren(h("option", { value: "" }, "all"), ...values.map((v) => h("option", { value: v }, v)));
    sel.value = values.includes(was) ? was : "";
  };
  const pick = (id, on) => {
    if (on) picked.push(id); else picked.splice(picked.indexOf(id), 1);
    while (picked.length > 2) picked.shift();
    for (const box of body.querySelectorAll("input.pick")) box.checked = picked.includes(box.value);
    compare.disabled = picked.length !== 2;
  };
  // the run picked first is the left one (what the second is compared with)
  compare.onclick = () => { location.hash = `#/compare/${esc(picked[0])}/${esc(picked[1])}`; };
  refresh = async () => {
    const q = new URLSearchParams({ limit: "200", experiment: exp.value, status: st.value, q: search.value.trim() });
    const [all, rows] = await Promise.all([api("/api/runs?limit=200"), api(`/api/runs?${q}`)]);
    fill(exp, [...new Set(all.map((r) => r.experiment))].sort());
    fill(st, [...new Set(all.map((r) => r.status))].sort());
    body.replaceChildren(...rows.map((r) => h("tr", { className: "run" },
      h("td", {}, Object.assign(h("input", { type: "checkbox", className: "pick", value: r.id, checked: picked.includes(r.id) }), { onchange: (e) => pick(r.id, e.target.checked) })),
      h("td", {}, h("a", { href: `#/run/${esc(r.id)}` }, r.id)), h("td", {}, r.experiment),
      h("td", { className: `status-${r.status}` }, r.status), h("td", {}, r.step_statuses.join(" ")),
      h("td", {}, r.duration_s == null ? "" : `${r.duration_s.toFixed(1)} s`))));
  };
  // a refused filter (a search over 200 characters) is said next to the filters,
  // the rows left as they were
  const filter = () => refresh().then(() => { note.textContent = ""; }, (err) => { note.textContent = err.message; });
  exp.onchange = st.onchange = filter;
  search.oninput = () => { clearTimeout(timer); timer = setTimeout(filter, 200); };
  await refresh();
}

async function runView(id) {
  const title = h("h2", {}, `Run ${id}`), holder = h("div", { id: "graph-holder" });
  const toggle = h("button", { id: "graph-toggle", hidden: true });
  view.replaceChildren(title, h("a", { id: "metrics-link", href: `#/run/${esc(id)}/metrics` }, "Metrics"),
    h("a", { id: "timeline-link", href: `#/run/${esc(id)}/timeline` }, "Timeline"), " ", toggle, holder);
  let asTable = null; // decided on the first read: a table above TABLE_ABOVE nodes
  let placed = null; // the layout is kept: a live refresh only recolours
  toggle.onclick = () => { asTable = !asTable; refresh(); };
  refresh = async () => {
    const [graph, detail] = await Promise.all([api(`/api/runs/${esc(id)}/graph`), api(`/api/runs/${esc(id)}`)]);
    title.textContent = `Run ${id} · ${detail.experiment} · ${detail.status}`;
    const details = new Map(detail.steps.map((s) => [`step:${s.node_id}`, s]));
    const open = (name) => { location.hash = `#/run/${esc(id)}/step/${esc(name)}`; };
    asTable ??= nodeCount(graph) > TABLE_ABOVE;
    toggle.hidden = nodeCount(graph) <= TABLE_ABOVE;
    toggle.textContent = asTable ? "Show graph" : "Show table";
    if (asTable) { holder.replaceChildren(stepTable(graph, details, open)); return; }
    placed ??= await placeGraph(graph);
    holder.replaceChildren(drawGraph(graph, details, open, placed));
  };
  await refresh();
}

async function logView(id, step) {
  const stream = h("select", { id: "stream" }, h("option", { value: "stdout" }, "stdout"), h("option", { value: "stderr" }, "stderr"));
  const older = h("button", { id: "older" }, "Load earlier"), pre = h("pre", { id: "log" });
  const info = h("span", { id: "log-info" }), download = h("a", { id: "download" }, "Download");
  const find = h("input", { id: "log-search", type: "search", placeholder: "find in the whole log" });
  const found = h("div", { id: "log-matches" }), last = h("button", { id: "log-end", hidden: true }, "Back to the end");
  view.replaceChildren(h("h2", {}, h("a", { href: `#/run/${esc(id)}` }, id), ` / ${step}`),
    h("div", {}, stream, " ", older, " ", download, " ", info), h("div", {}, find, " ", last), found, pre);
  let start = 0, end = 0, tail = true; // tail: the live tail is followed (not after a jump)
  const url = (offset, length = PAGE) => `/api/runs/${esc(id)}/steps/${esc(step)}/log?stream=${stream.value}&offset=${offset}&length=${length}`;
  const show = (r) => { info.textContent = `bytes ${start}–${end} of ${r.size}${r.final ? "" : " · live"}`; older.disabled = start === 0; };
  // the last page first: a huge log is never read whole
  const open = async () => {
    download.href = `/api/runs/${esc(id)}/steps/${esc(step)}/log/download?stream=${stream.value}`;
    const first = await api(url(0, 4));
    start = Math.max(0, first.size - PAGE);
    const r = await api(url(start));
    if (start > 0) { const cut = r.text.indexOf("\n") + 1; start += new TextEncoder().encode(r.text.slice(0, cut)).length; r.text = r.text.slice(cut); }
    end = r.end; pre.textContent = r.text; show(r); pre.scrollTop = pre.scrollHeight;
  };
  refresh = async () => { // the live tail: what was written since `end`
    if (!tail) return;
    let r;
    do {
      r = await api(url(end));
      if (r.restarted) { pre.textContent = ""; start = 0; }
      pre.textContent += r.text; end = r.end;
    } while (r.more);
    show(r);
    if (r.final) clearInterval(poll);
  };
  older.onclick = async () => {
    const from = Math.max(0, start - PAGE), r = await api(url(from, start - from));
    pre.textContent = r.text + pre.textContent; start = from; show(r);
  };
  // a match's page: from its line on (a jump leaves the tail until "Back to the end")
  const jump = async (offset) => {
    tail = false; last.hidden = false;
    const r = await api(url(offset));
    start = offset; end = r.end; pre.textContent = r.text; show(r); pre.scrollTop = 0;
  };
  // the whole log searched on the server, a slice per request (`next`: search on)
  const search = async (after = 0) => {
    const q = find.value.trim();
    if (!q) { found.replaceChildren(); return; }
    const r = await api(`/api/runs/${esc(id)}/steps/${esc(step)}/log/search?stream=${stream.value}&q=${esc(q)}&after=${after}`);
    if (after === 0) found.replaceChildren(h("p", { id: "match-count" }));
    for (const m of r.matches) found.append(Object.assign(h("div", { className: "match" }, h("code", {}, `@${m.offset} `), m.text), { onclick: () => jump(m.offset) }));
    found.querySelector("#search-on")?.remove();
    const n = found.querySelectorAll(".match").length;
    found.querySelector("#match-count").textContent = `${n} line(s)${r.next == null ? "" : " so far"}`;
    if (r.next != null) found.append(Object.assign(h("button", { id: "search-on" }, "Search on"), { onclick: () => search(r.next) }));
  };
  find.onkeydown = (e) => { if (e.key === "Enter") search().catch((err) => found.replaceChildren(h("p", { className: "error" }, err.message))); };
  last.onclick = async () => { tail = true; last.hidden = true; await open(); };
  stream.onchange = open;
  await open();
  // polled only once the log opened (an unknown step is one error, not one a
  // second); a failed read stops the tail and says why instead of failing unseen
  poll = setInterval(() => refresh().catch((err) => {
    clearInterval(poll); info.textContent = `live tail stopped: ${err.message}`;
  }), 1000);
}

async function route() {
  const mine = ++generation;
  view = { replaceChildren: (...kids) => { if (mine === generation) root.replaceChildren(...kids); } };
  clearInterval(poll);
  refresh = () => {};
  wants = () => true;
  clearTimeout(late);
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    if (parts[0] === "datasets") await datasetsView(view, live);
    else if (parts[0] === "dataset") await datasetView(view, parts[1], parts[2] || "latest", live);
    else if (parts[0] === "run" && parts[2] === "metrics") await metricsView(view, parts[1], live);
    else if (parts[0] === "run" && parts[2] === "timeline") await timelineView(view, parts[1], (f) => { refresh = f; });
    else if (parts[0] === "compare") await compareView(view, parts[1], parts[2]);
    else if (parts[0] === "run" && parts[2] === "step") await logView(parts[1], parts[3]);
    else if (parts[0] === "run") await runView(parts[1]);
    else await runsView();
  } catch (err) {
    view.replaceChildren(h("p", { className: "error" }, String(err.message || err)));
  }
}
window.addEventListener("hashchange", route);
route();
