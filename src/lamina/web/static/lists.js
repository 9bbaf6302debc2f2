// The Traces page: expanding sessions in place, keyboard moves, "Load more",
// live updates with a pause toggle, and the trace side panel on wide screens.
// The address keeps the expanded sessions (open=ID, replaced in place) and the trace
// in the panel (trace=ID, a history entry of its own: Back closes the panel).
import { announce, enhance, fetchFragment, note } from "./app.js";
import "./columns.js";
import "./notes.js";

const POLL_MS = 2000;
const WIDE = window.matchMedia("(min-width: 1400px)");

const table = document.querySelector("table[data-list]");
const tbody = document.getElementById("rows");
const kind = table ? table.dataset.list : null;
let expansionCounter = 0;

// -- expanding a session in place ------------------------------------------------------------

function expansionOf(row) {
  const next = row.nextElementSibling;
  return next && next.classList.contains("expansion") ? next : null;
}

async function loadExpansion(row, expansion) {
  const cell = expansion.firstElementChild;
  cell.replaceChildren(note("Loading traces…"));
  try {
    const doc = await fetchFragment(row.dataset.expand);
    const body = doc.querySelector(".expansion-body");
    if (!body) throw new Error("no traces in the answer");
    cell.replaceChildren(document.adoptNode(body));
    enhance(cell);
  } catch (error) {
    cell.replaceChildren(note(`Could not load this session's traces (${error.message}).`));
  }
}

function rememberExpanded() {
  const url = new URL(location.href);
  url.searchParams.delete("open");
  for (const row of tbody.querySelectorAll(":scope > tr.srow[data-open]")) url.searchParams.append("open", row.dataset.id);
  if (url.href !== location.href) history.replaceState(history.state, "", url);
}

async function expand(row) {
  const button = row.querySelector(".disclosure");
  let expansion = expansionOf(row);
  button.setAttribute("aria-expanded", "true");
  row.dataset.open = "true";
  rememberExpanded();
  if (!expansion) {
    expansion = document.createElement("tr");
    expansion.className = "expansion";
    expansion.id = `expansion-${++expansionCounter}`;
    const cell = document.createElement("td");
    cell.colSpan = 100;
    expansion.append(cell);
    row.after(expansion);
    button.setAttribute("aria-controls", expansion.id);
    await loadExpansion(row, expansion);
  } else {
    expansion.hidden = false;
  }
}

function collapse(row) {
  const expansion = expansionOf(row);
  if (expansion) expansion.hidden = true;
  row.querySelector(".disclosure").setAttribute("aria-expanded", "false");
  delete row.dataset.open;
  rememberExpanded();
}

function toggle(row) {
  if (row.dataset.open) collapse(row);
  else expand(row);
}

// -- opening a trace ----------------------------------------------------------------------------

let panel = null;
let panelOpener = null;
let panelTrace = null;

function traceInAddress() {
  return new URL(location.href).searchParams.get("trace");
}

function addressWithTrace(id) {
  const url = new URL(location.href);
  if (id) url.searchParams.set("trace", id);
  else url.searchParams.delete("trace");
  return url;
}

function hidePanel() {
  if (!panel || panel.hidden) return;
  panel.hidden = true;
  panelTrace = null;
  for (const row of document.querySelectorAll("tr.trow.active")) row.classList.remove("active");
  if (panelOpener && document.contains(panelOpener)) panelOpener.focus();
}

// Closing steps back over the history entry opening it made, so Back and Close agree;
// a panel the address opened (a reload, a shared link) just leaves the address.
function closePanel() {
  if (!panel || panel.hidden) return;
  if (history.state && history.state.panel && traceInAddress()) {
    history.back(); // popstate hides it
    return;
  }
  history.replaceState(history.state, "", addressWithTrace(null));
  hidePanel();
}

function buildPanel() {
  panel = document.createElement("aside");
  panel.className = "side-panel";
  panel.setAttribute("aria-label", "Trace");
  const bar = document.createElement("div");
  bar.className = "panel-bar";
  const full = document.createElement("a");
  full.className = "btn small";
  full.dataset.full = "";
  full.textContent = "Open full page";
  const spacer = document.createElement("span");
  spacer.className = "spacer";
  const close = document.createElement("button");
  close.type = "button";
  close.className = "btn small";
  close.textContent = "Close";
  close.setAttribute("aria-label", "Close the trace panel");
  close.addEventListener("click", closePanel);
  bar.append(full, spacer, close);
  const body = document.createElement("div");
  body.className = "panel-body";
  panel.append(bar, body);
  document.body.append(panel); // Escape closes it: see the document's keydown below
}

function traceUrl(id) {
  return `${location.pathname.replace(/\/+$/, "")}/${encodeURIComponent(id)}`;
}

function rowOfTrace(id) {
  return [...document.querySelectorAll("tr.trow")].find((row) => row.dataset.id === id) || null;
}

async function openPanel(url, row) {
  if (!panel) buildPanel();
  panelOpener = row ? row.querySelector("[data-row-focus]") || row : null;
  for (const other of document.querySelectorAll("tr.trow.active")) other.classList.remove("active");
  if (row) row.classList.add("active");
  panelTrace = url.split("/").pop();
  panel.hidden = false;
  panel.querySelector("[data-full]").href = url;
  const body = panel.querySelector(".panel-body");
  body.replaceChildren(note("Loading the trace…"));
  try {
    const doc = await fetchFragment(`${url}?fragment=view`);
    const view = doc.querySelector("[data-trace-view]");
    body.replaceChildren(document.adoptNode(view));
    enhance(body);
    const { initTraceView } = await import("./trace.js");
    initTraceView(view, { panel: true });
    const heading = view.querySelector(".h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  } catch (error) {
    body.replaceChildren(note(`Could not load the trace (${error.message}).`));
  }
}

function openTrace(url, row) {
  if (!WIDE.matches) {
    location.href = url;
    return;
  }
  const id = row.dataset.id;
  const address = addressWithTrace(id);
  if (panel && !panel.hidden) history.replaceState(history.state, "", address);
  else history.pushState({ ...(history.state || {}), panel: true }, "", address);
  openPanel(url, row);
}

// The address changed (Back, Forward): show what it says.
function followAddress() {
  const id = traceInAddress();
  if (!id) hidePanel();
  else if (id !== panelTrace) openPanel(traceUrl(id), rowOfTrace(id));
}

// On arrival: expand the sessions the address names, then open its trace.
async function restoreAddress() {
  const url = new URL(location.href);
  if (tbody) {
    const rows = url.searchParams.getAll("open").map((id) => [...tbody.querySelectorAll(":scope > tr.srow")].find((row) => row.dataset.id === id));
    await Promise.all(rows.filter(Boolean).map((row) => expand(row)));
  }
  const id = url.searchParams.get("trace");
  if (!id) return;
  if (WIDE.matches) openPanel(traceUrl(id), rowOfTrace(id));
  else {
    history.replaceState(history.state, "", addressWithTrace(null)); // Back comes to the list
    location.href = traceUrl(id);
  }
}

// -- clicks and keys on the table ------------------------------------------------------------

function onTableClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  const row = event.target.closest("tr.srow, tr.trow");
  if (!row || !table.contains(row)) return;
  if (String(window.getSelection()).length > 0 && !event.target.closest("a, button")) return;
  const link = event.target.closest("a");
  if (row.classList.contains("srow")) {
    if (!link) toggle(row);
    return;
  }
  if (link && !link.classList.contains("trace-link")) return; // a session link: follow it
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
    if (!link) window.open(row.dataset.href, "_blank", "noopener");
    return;
  }
  event.preventDefault();
  openTrace(row.dataset.href, row);
}

function focusables() {
  return [...table.querySelectorAll("[data-row-focus]")].filter((el) => el.offsetParent !== null);
}

function onTableKey(event) {
  const current = event.target.closest("[data-row-focus]");
  if (!current) return;
  const row = current.closest("tr");
  const items = focusables();
  const index = items.indexOf(current);
  let target = null;
  switch (event.key) {
    case "ArrowDown":
      target = items[index + 1];
      break;
    case "ArrowUp":
      target = items[index - 1];
      break;
    case "Home":
      target = items[0];
      break;
    case "End":
      target = items[items.length - 1];
      break;
    case "ArrowRight":
      if (row.classList.contains("srow") && !row.dataset.open) expand(row);
      break;
    case "ArrowLeft":
      if (row.classList.contains("srow") && row.dataset.open) collapse(row);
      else {
        const expansion = row.closest("tr.expansion");
        if (expansion) target = expansion.previousElementSibling.querySelector("[data-row-focus]");
      }
      break;
    case " ":
      if (current.tagName === "A") {
        event.preventDefault();
        current.click();
      }
      return;
    default:
      return;
  }
  event.preventDefault();
  if (target) target.focus();
}

// -- more rows and live updates ------------------------------------------------------------------

function updateCount(added = 0) {
  const count = document.querySelector("[data-count]");
  if (!count || !tbody) return;
  const noun = kind === "sessions" ? "session" : "trace";
  const counted = (n) => `${n.toLocaleString("en")} ${n === 1 ? noun : `${noun}s`}`;
  if (count.dataset.total !== undefined) {
    // the server's total for these filters; what arrives live adds to it
    const total = Number(count.dataset.total) + added;
    count.dataset.total = String(total);
    count.textContent = `${count.dataset.exact === "true" ? "" : "more than "}${counted(total)}`;
    return;
  }
  const n = tbody.querySelectorAll(":scope > tr[data-id]").length;
  count.textContent = `${counted(n)}${tbody.dataset.next ? "+" : ""}`;
}

function fragmentUrl(cursor) {
  const url = new URL(location.href);
  url.searchParams.set("fragment", "rows");
  url.searchParams.delete("cursor");
  // The rows keep the page's score columns, whatever scores the new rows have.
  const table = document.querySelector("table[data-list]");
  url.searchParams.delete("column");
  for (const name of JSON.parse((table && table.dataset.scoreColumns) || "[]")) {
    url.searchParams.append("column", name);
  }
  if (cursor) url.searchParams.set("cursor", cursor);
  return url;
}

async function loadMore(event) {
  event.preventDefault();
  const button = event.currentTarget;
  const cursor = tbody.dataset.next;
  if (!cursor) return;
  button.setAttribute("aria-busy", "true");
  try {
    const doc = await fetchFragment(fragmentUrl(cursor));
    const more = doc.querySelector("tbody");
    const known = new Set([...tbody.querySelectorAll(":scope > tr[data-id]")].map((r) => r.dataset.id));
    for (const row of [...more.querySelectorAll(":scope > tr[data-id]")]) {
      if (known.has(row.dataset.id)) continue;
      const node = document.adoptNode(row);
      tbody.append(node);
      enhance(node);
    }
    tbody.dataset.next = more.dataset.next || "";
    button.hidden = !tbody.dataset.next;
    updateCount();
  } catch (error) {
    announce(`Could not load more (${error.message}).`);
  } finally {
    button.removeAttribute("aria-busy");
  }
}

function replaceRow(old, fresh) {
  const wasOpen = Boolean(old.dataset.open);
  const controls = old.querySelector(".disclosure")?.getAttribute("aria-controls");
  old.replaceChildren(...[...fresh.childNodes].map((node) => document.adoptNode(node)));
  old.dataset.sig = fresh.dataset.sig;
  enhance(old);
  if (wasOpen) {
    const button = old.querySelector(".disclosure");
    button.setAttribute("aria-expanded", "true");
    if (controls) button.setAttribute("aria-controls", controls);
    const expansion = expansionOf(old);
    if (expansion) loadExpansion(old, expansion);
  }
}

let paused = false;
let timer = null;
const live = document.querySelector("[data-live]");

async function poll() {
  timer = null;
  if (paused || document.hidden) return;
  try {
    if (!tbody) {
      // The empty state: reload once the first rows exist.
      const doc = await fetchFragment(fragmentUrl(null));
      if (doc.querySelector("tbody > tr[data-id]")) location.reload();
    } else if (!new URL(location.href).searchParams.get("cursor")) {
      await refresh();
    }
  } catch {
    /* try again at the next tick */
  }
  schedule();
}

async function refresh() {
  const doc = await fetchFragment(fragmentUrl(null));
  const fresh = [...doc.querySelectorAll("tbody > tr[data-id]")];
  const current = new Map([...tbody.querySelectorAll(":scope > tr[data-id]")].map((r) => [r.dataset.id, r]));
  const inserts = table.dataset.liveInserts === "true";
  const added = [];
  for (const row of fresh) {
    const old = current.get(row.dataset.id);
    if (old) {
      if (old.dataset.sig !== row.dataset.sig) replaceRow(old, row);
    } else if (inserts) {
      added.push(row);
    }
  }
  if (!added.length) return;
  const placeholder = tbody.querySelector(":scope > tr.none");
  if (placeholder) placeholder.remove();
  const first = tbody.firstElementChild;
  for (const row of added) {
    const node = document.adoptNode(row);
    node.classList.add("new");
    tbody.insertBefore(node, first);
    enhance(node);
  }
  if (!tbody.dataset.next && fresh.length >= 50) tbody.dataset.next = doc.querySelector("tbody").dataset.next || "";
  updateCount(added.length);
  announce(`${added.length} new ${added.length === 1 ? kind.replace(/s$/, "") : kind}`);
}

function schedule() {
  if (!timer && !paused) timer = setTimeout(poll, POLL_MS);
}

function setPaused(value, remember = true) {
  paused = value;
  if (remember) localStorage.setItem("lamina.live", value ? "paused" : "live");
  const button = live.querySelector("[data-live-toggle]");
  button.setAttribute("aria-pressed", String(value));
  button.textContent = value ? "Resume" : "Pause";
  live.classList.toggle("paused", value);
  live.querySelector(".live-text").textContent = value ? "Paused" : "Live";
  if (value && timer) {
    clearTimeout(timer);
    timer = null;
  }
  if (!value) schedule();
}

// -- start -----------------------------------------------------------------------------------------

if (table) {
  table.addEventListener("click", onTableClick);
  table.addEventListener("keydown", onTableKey);
}
const more = document.querySelector("[data-load-more]");
if (more && tbody) more.addEventListener("click", loadMore);
if (live) {
  live.querySelector("[data-live-toggle]").addEventListener("click", () => setPaused(!paused));
  setPaused(localStorage.getItem("lamina.live") === "paused", false);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) schedule();
  });
}
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closePanel();
});
window.addEventListener("popstate", followAddress);
restoreAddress();
