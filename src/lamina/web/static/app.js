// Lamina pages: behaviour shared by every page.
// Text that came from applications is only ever set with textContent; HTML is only
// ever taken from the server's own escaped fragments.

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n, width = 2) => String(n).padStart(width, "0");

/** The same text the server writes (render.clock_text), in the viewer's zone. */
export function formatTime(date, style, now = new Date()) {
  const sameDay = date.toDateString() === now.toDateString();
  const hm = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  const hms = `${hm}:${pad(date.getSeconds())}`;
  const ymd = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  if (style === "precise") return `${hms}.${pad(date.getMilliseconds(), 3)}`;
  if (style === "full") return `${ymd} ${hms}`;
  if (style === "short" && sameDay) return hm;
  if (sameDay) return hms;
  if (date.getFullYear() === now.getFullYear()) return `${MONTHS[date.getMonth()]} ${date.getDate()}, ${hm}`;
  return ymd;
}

function localizeTimes(root) {
  const now = new Date();
  for (const el of root.querySelectorAll("time[datetime][data-fmt]")) {
    const date = new Date(el.getAttribute("datetime"));
    if (!Number.isNaN(date.getTime())) el.textContent = formatTime(date, el.dataset.fmt, now);
  }
}

function rememberZone() {
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && !document.cookie.split("; ").includes(`lamina_tz=${encodeURIComponent(zone)}`)) {
      document.cookie = `lamina_tz=${encodeURIComponent(zone)}; path=/; max-age=31536000; samesite=lax`;
    }
  } catch {
    /* no zone: the server keeps showing UTC */
  }
}

// -- announcements for screen readers -------------------------------------------------------

let liveRegion = null;
export function announce(message) {
  if (!liveRegion) {
    liveRegion = document.createElement("div");
    liveRegion.className = "sr-only";
    liveRegion.setAttribute("aria-live", "polite");
    document.body.append(liveRegion);
  }
  liveRegion.textContent = message;
}

// -- fetching server-rendered fragments ------------------------------------------------------

export async function fetchFragment(url) {
  const response = await fetch(url, {
    headers: { "X-Lamina-Fragment": "1" },
    credentials: "same-origin",
  });
  if (response.status === 401) {
    location.reload();
    throw new Error("signed out");
  }
  if (!response.ok) throw new Error(`the server answered ${response.status}`);
  const html = await response.text();
  return new DOMParser().parseFromString(html, "text/html");
}

export function note(text, className = "expansion-loading") {
  const div = document.createElement("div");
  div.className = className;
  div.textContent = text;
  return div;
}

// -- copy buttons ---------------------------------------------------------------------------

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function onCopy(event) {
  const button = event.target.closest("[data-copy], [data-copy-link]");
  if (!button) return;
  event.preventDefault();
  event.stopPropagation();
  const text = button.hasAttribute("data-copy-link") ? location.href : button.dataset.copy;
  copyText(text).then(
    () => {
      button.classList.add("copied");
      const before = button.getAttribute("title");
      if (button.hasAttribute("data-copy-link")) button.textContent = "Copied";
      else button.setAttribute("title", "Copied");
      announce("Copied");
      setTimeout(() => {
        button.classList.remove("copied");
        if (button.hasAttribute("data-copy-link")) button.textContent = "Copy link";
        else if (before) button.setAttribute("title", before);
      }, 1400);
    },
    () => announce("Could not copy"),
  );
}

// -- folding long text -----------------------------------------------------------------------

function setUpFolds(root) {
  for (const box of root.querySelectorAll("[data-fold]")) {
    if (box.dataset.folded || box.offsetParent === null) continue; // measured once visible
    box.dataset.folded = "1";
    box.classList.add("folded");
    if (box.scrollHeight <= box.clientHeight + 8) {
      box.classList.remove("folded");
      continue;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link-btn fold-toggle";
    button.textContent = "Show more";
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      const open = box.classList.toggle("folded") === false;
      button.textContent = open ? "Show less" : "Show more";
      button.setAttribute("aria-expanded", String(open));
    });
    box.after(button);
  }
}

// -- tabs ----------------------------------------------------------------------------------------

function tabsOf(list) {
  return [...list.querySelectorAll('[role="tab"]')];
}

function selectTab(tab, focus = true) {
  const list = tab.closest('[role="tablist"]');
  for (const other of tabsOf(list)) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    const panel = document.getElementById(other.getAttribute("aria-controls"));
    if (panel) panel.hidden = !selected;
  }
  if (focus) tab.focus();
  const panel = document.getElementById(tab.getAttribute("aria-controls"));
  if (panel) setUpFolds(panel);
}

function setUpLocalTabs(root) {
  for (const list of root.querySelectorAll("[data-local-tabs]")) {
    if (list.dataset.ready) continue;
    list.dataset.ready = "1";
    list.addEventListener("click", (event) => {
      const tab = event.target.closest('[role="tab"]');
      if (tab) selectTab(tab);
    });
  }
}

function onTabKey(event) {
  const tab = event.target.closest('[role="tab"]');
  if (!tab) return;
  const list = tab.closest('[role="tablist"]');
  const tabs = tabsOf(list);
  const index = tabs.indexOf(tab);
  let next = null;
  if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
  else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
  else if (event.key === "Home") next = tabs[0];
  else if (event.key === "End") next = tabs[tabs.length - 1];
  else if ((event.key === " " || event.key === "Enter") && tab.tagName === "A") {
    event.preventDefault();
    tab.click();
    return;
  }
  if (!next) return;
  event.preventDefault();
  if (list.hasAttribute("data-link-tabs")) {
    for (const other of tabs) other.tabIndex = other === next ? 0 : -1;
    next.focus(); // a link tab opens with Enter or Space
  } else {
    selectTab(next);
  }
}

/** The key (data-tab) of the selected tab in the first local tab list under root. */
export function selectedTabKey(root) {
  const tab = root.querySelector('[data-local-tabs] [role="tab"][aria-selected="true"]');
  return tab ? tab.dataset.tab : null;
}

/** Select the tab with this key under root, if there is one (no focus move). */
export function selectTabKey(root, key) {
  const tab = key && root.querySelector(`[data-local-tabs] [role="tab"][data-tab="${key}"]`);
  if (tab) selectTab(tab, false);
  return Boolean(tab);
}

// -- menus and forms --------------------------------------------------------------------------------

function setUpMenus() {
  const menus = () => document.querySelectorAll("details[data-menu][open]");
  document.addEventListener("click", (event) => {
    for (const menu of menus()) if (!menu.contains(event.target)) menu.open = false;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    for (const menu of menus()) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
}

function setUpForms() {
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.dataset.deleteUrl) {
      event.preventDefault();
      deleteFromDialog(form);
      return;
    }
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    if (form.method === "get") {
      // Keep addresses short: leave empty fields out.
      for (const field of form.elements) {
        if (field.name && field.value === "" && !field.disabled) field.disabled = true;
      }
    }
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-autosubmit]")) event.target.form.requestSubmit();
  });
}

// -- confirmation dialogs ---------------------------------------------------------------------------
// A button with data-open-dialog="ID" opens <dialog id="ID"> (see _macros.html confirm_dialog).
// Its form either posts as usual, or (data-delete-url) sends DELETE to the JSON API with the
// page's CSRF token and then goes to data-done-url, where the next page says what was deleted.

function resetDialog(dialog) {
  const form = dialog.querySelector("form");
  form.reset();
  const error = form.querySelector("[data-dialog-error]");
  if (error) error.hidden = true;
  const field = form.querySelector("[data-must-equal]");
  const confirm = form.querySelector("[data-dialog-confirm]");
  if (confirm) confirm.disabled = Boolean(field);
}

function setUpDialogs() {
  let opener = null;
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-open-dialog]");
    if (button) {
      const dialog = document.getElementById(button.dataset.openDialog);
      if (!dialog || dialog.open) return;
      opener = button;
      resetDialog(dialog);
      dialog.showModal();
      return;
    }
    const close = event.target.closest("[data-dialog-close]");
    if (close) {
      close.closest("dialog").close();
      return;
    }
    // a click on the backdrop (outside the dialog's box) cancels too
    if (event.target instanceof HTMLDialogElement && event.target.open) {
      const box = event.target.getBoundingClientRect();
      const inside =
        event.clientX >= box.left && event.clientX <= box.right &&
        event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside && !event.target.dataset.busy) event.target.close();
    }
  });
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("close", () => {
      if (opener && document.contains(opener)) opener.focus();
    });
    dialog.addEventListener("cancel", (event) => {
      if (dialog.dataset.busy) event.preventDefault(); // not while a delete is under way
    });
  }
  document.addEventListener("input", (event) => {
    const field = event.target.closest("[data-must-equal]");
    if (!field) return;
    const confirm = field.form.querySelector("[data-dialog-confirm]");
    if (confirm) confirm.disabled = field.value !== field.dataset.mustEqual;
  });
}

async function deleteFromDialog(form) {
  const dialog = form.closest("dialog");
  const error = form.querySelector("[data-dialog-error]");
  const confirm = form.querySelector("[data-dialog-confirm]");
  const buttons = [...form.querySelectorAll("button")];
  const label = confirm.textContent;
  dialog.dataset.busy = "1";
  for (const button of buttons) button.disabled = true;
  confirm.textContent = "Deleting…";
  error.hidden = true;
  try {
    let response;
    try {
      response = await fetch(form.dataset.deleteUrl, {
        method: "DELETE",
        headers: { "X-CSRF-Token": form.dataset.csrf },
        credentials: "same-origin",
      });
    } catch {
      throw new Error("The server could not be reached. Check your connection and try again.");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const message = body && body.error && body.error.message;
      throw new Error(message || `The server answered ${response.status}.`);
    }
    const deleted = (body && body.deleted) || {};
    const counts = form.dataset.notice === "session" ? [deleted.traces, deleted.spans] : [deleted.spans];
    if (counts.every(Number.isInteger)) {
      document.cookie = `lamina_notice=${form.dataset.notice}.${counts.join(".")}; path=/; max-age=60; samesite=strict`;
    }
    location.assign(form.dataset.doneUrl);
  } catch (problem) {
    delete dialog.dataset.busy;
    for (const button of buttons) button.disabled = false;
    confirm.textContent = label;
    error.textContent = `Nothing was deleted. ${problem.message}`;
    error.hidden = false;
    announce(error.textContent);
  }
}

/** Make server-rendered HTML under root come alive (times, folds, tabs). */
export function enhance(root) {
  localizeTimes(root);
  setUpLocalTabs(root);
  setUpFolds(root);
}

rememberZone();
document.addEventListener("click", onCopy);
document.addEventListener("keydown", onTabKey);
setUpMenus();
setUpForms();
setUpDialogs();
enhance(document);
if (document.getElementById("share")) import("./share.js"); // the Share dialog (_share.html)
if (document.getElementById("dataset-add")) import("./datasets.js"); // _dataset_add.html
// Re-enabled fields when a page is shown again from the back/forward cache.
window.addEventListener("pageshow", () => {
  for (const field of document.querySelectorAll("form[method=get] [disabled]")) field.disabled = false;
});
