// The lists' column chooser: a "Columns" menu of checkboxes, one per column a person may
// hide (every header cell with a data-col, but the row's own name), remembered for the
// signed-in person on the server (POST /p/{project}/columns) so it follows them.
// Hidden columns are hidden by a style rule on their position, so rows added later by
// "Load more" and live updates follow it without being touched.
import { note } from "./app.js";

const table = document.querySelector("table[data-list]");
const menu = document.querySelector("[data-columns-menu]");
// Each tab's columns that name its rows: never hidden.
const FIXED = { sessions: ["session_id"], traces: ["start_time", "name"] };

function headers() {
  return [...table.querySelectorAll(":scope > thead > tr > th")];
}

function choosable() {
  const fixed = FIXED[table.dataset.list] || [];
  return headers().filter((th) => th.dataset.col && !fixed.includes(th.dataset.col));
}

function labelOf(th) {
  const link = th.querySelector("a.sort");
  const text = (link ? link.firstChild.textContent : th.textContent).trim();
  return text || th.dataset.col;
}

let style = null;

function apply(hidden) {
  const positions = [];
  headers().forEach((th, index) => {
    if (hidden.has(th.dataset.col)) positions.push(index + 1);
  });
  const list = `table[data-list="${table.dataset.list}"]`;
  const rules = positions.map(
    (n) => `${list} > thead > tr > :nth-child(${n}), ${list} > tbody > tr:not(.expansion):not(.none) > :nth-child(${n}) { display: none; }`,
  );
  if (!style) {
    style = document.createElement("style");
    document.head.append(style);
  }
  style.textContent = rules.join("\n");
  table.dataset.hiddenCount = String(positions.length);
}

async function save(list, hidden) {
  const form = new FormData();
  form.append("csrf", menu.dataset.csrf);
  form.append("tab", table.dataset.list);
  for (const name of hidden) form.append("hidden", name);
  const failure = list.querySelector(".columns-error");
  try {
    const response = await fetch(menu.dataset.url, { method: "POST", body: form, credentials: "same-origin" });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    if (failure) failure.remove();
  } catch (error) {
    const message = note(`Could not remember these columns (${error.message}); they apply to this page only.`, "columns-error");
    if (failure) failure.replaceWith(message);
    else list.append(message);
  }
}

function build(hidden) {
  const list = menu.querySelector("[data-columns-list]");
  for (const th of choosable()) {
    const label = document.createElement("label");
    label.className = "check";
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = th.dataset.col;
    box.checked = !hidden.has(th.dataset.col);
    box.addEventListener("change", () => {
      if (box.checked) hidden.delete(box.value);
      else hidden.add(box.value);
      apply(hidden);
      save(list, hidden);
    });
    label.append(box, ` ${labelOf(th)}`);
    list.append(label);
  }
}

if (table && menu) {
  const hidden = new Set(JSON.parse(table.dataset.hiddenColumns || "[]"));
  apply(hidden);
  // the checkboxes are made when the menu first opens (the page's other labels stay unique)
  menu.addEventListener("toggle", () => {
    if (menu.open && !menu.dataset.built) {
      menu.dataset.built = "true";
      build(hidden);
    }
  });
}
