// The trace view: a span tree (ARIA tree) beside its waterfall, and the selected
// span's detail, fetched as a server-rendered fragment when the selection moves.
import { enhance, fetchFragment, note, selectTabKey, selectedTabKey } from "./app.js";
import "./annotate.js";
import "./notes.js";

export function initTraceView(view, { panel = false } = {}) {
  const tree = view.querySelector("[data-tree]");
  const detail = view.querySelector("[data-detail]");
  if (!tree || view.dataset.ready) return;
  view.dataset.ready = "1";
  const rows = [...tree.querySelectorAll('[role="treeitem"]')];
  const level = (row) => Number(row.getAttribute("aria-level"));
  const cache = new Map();
  let loading = 0;
  let timer = null;

  function descendants(row) {
    const found = [];
    for (let i = rows.indexOf(row) + 1; i < rows.length && level(rows[i]) > level(row); i++) found.push(rows[i]);
    return found;
  }

  function setExpanded(row, open) {
    if (!row.hasAttribute("aria-expanded")) return;
    row.setAttribute("aria-expanded", String(open));
    const count = row.querySelector(".hidden-count");
    const below = descendants(row);
    if (count) {
      count.hidden = open;
      count.textContent = open ? "" : `+${below.length}`;
    }
    // Show a descendant only when every ancestor up to this row is expanded.
    const closedLevels = [];
    for (const child of below) {
      while (closedLevels.length && closedLevels[closedLevels.length - 1] >= level(child)) closedLevels.pop();
      child.hidden = !open || closedLevels.length > 0;
      if (child.getAttribute("aria-expanded") === "false") closedLevels.push(level(child));
    }
  }

  const visible = () => rows.filter((row) => !row.hidden);

  async function showDetail(row) {
    const id = row.dataset.id;
    const ticket = ++loading;
    const tab = selectedTabKey(detail);
    let html = cache.get(id);
    if (!html) {
      detail.classList.add("loading");
      try {
        const doc = await fetchFragment(view.dataset.spanUrl + encodeURIComponent(id));
        html = doc.querySelector(".detail"); // kept pristine: clones are shown
        cache.set(id, html);
      } catch (error) {
        if (ticket === loading) detail.replaceChildren(note(`Could not load the span (${error.message}).`));
        detail.classList.remove("loading");
        return;
      }
    }
    if (ticket !== loading) return; // the selection moved on meanwhile
    detail.classList.remove("loading");
    detail.replaceChildren(document.importNode(html, true));
    enhance(detail);
    // Keep the reader on the same kind of tab; messages and input stand in for each other.
    if (!selectTabKey(detail, tab === "in" || tab === "msg" ? "msg" : tab)) selectTabKey(detail, "in");
  }

  function select(row, { focus = true, now = false } = {}) {
    for (const other of rows) {
      const on = other === row;
      other.setAttribute("aria-selected", String(on));
      other.tabIndex = on ? 0 : -1;
    }
    if (focus) row.focus();
    row.scrollIntoView({ block: "nearest" });
    if (!panel) {
      const url = new URL(location.href);
      url.searchParams.set("span", row.dataset.id);
      history.replaceState(history.state, "", url);
    }
    clearTimeout(timer);
    if (now) showDetail(row);
    else timer = setTimeout(() => showDetail(row), 90); // arrow keys move fast
  }

  tree.addEventListener("click", (event) => {
    const row = event.target.closest('[role="treeitem"]');
    if (!row) return;
    if (event.target.closest(".twisty") && row.hasAttribute("aria-expanded")) {
      setExpanded(row, row.getAttribute("aria-expanded") !== "true");
      row.focus();
      return;
    }
    select(row, { now: true });
  });

  tree.addEventListener("keydown", (event) => {
    const row = event.target.closest('[role="treeitem"]');
    if (!row) return;
    const shown = visible();
    const index = shown.indexOf(row);
    const expanded = row.getAttribute("aria-expanded");
    let target = null;
    switch (event.key) {
      case "ArrowDown":
        target = shown[index + 1];
        break;
      case "ArrowUp":
        target = shown[index - 1];
        break;
      case "Home":
        target = shown[0];
        break;
      case "End":
        target = shown[shown.length - 1];
        break;
      case "ArrowRight":
        if (expanded === "false") setExpanded(row, true);
        else if (expanded === "true") target = shown[index + 1];
        break;
      case "ArrowLeft":
        if (expanded === "true") setExpanded(row, false);
        else if (row.dataset.parent) target = rows.find((r) => r.dataset.id === row.dataset.parent);
        break;
      case "Enter":
      case " ":
        select(row, { now: true });
        break;
      default:
        return;
    }
    event.preventDefault();
    if (target) select(target);
  });

  const selected = rows.find((row) => row.getAttribute("aria-selected") === "true");
  if (selected) selected.scrollIntoView({ block: "nearest" });
}

const page = document.querySelector("main [data-trace-view]");
if (page) initTraceView(page);
