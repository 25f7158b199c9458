// Small helpers the page's views share: JSON fetch, element builder, a table.
export const api = async (path) => {
  const r = await fetch(path);
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
};
export const h = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  Object.assign(e, attrs);
  e.append(...kids);
  return e;
};
export const esc = encodeURIComponent;
const cell = (v) => (v == null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v));
export const table = (id, head, rows) => h("table", { id },
  h("thead", {}, h("tr", {}, ...head.map((t) => h("th", {}, t)))),
  h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((v) => (v instanceof Node ? h("td", {}, v) : h("td", {}, cell(v))))))));
