// Comments and stars on the session page, the trace view and the lists.
// A comment form posts to POST /api/v1/comments as the signed-in user, then the page
// is read again; a star toggles with PUT/DELETE /api/v1/bookmarks in place. Comment
// text is only ever shown as the server rendered it (escaped, links made clickable).
import { announce } from "./app.js";

function api() {
  return document.querySelector("[data-notes-api]");
}

async function send(method, url, body) {
  const where = api();
  let response = null;
  try {
    response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": where.dataset.csrf },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, message: "The server could not be reached. Try again." };
  }
  if (response.ok) return { ok: true };
  const answer = await response.json().catch(() => null);
  const message = answer && answer.error && answer.error.message;
  return { ok: false, message: message || `The server answered ${response.status}.` };
}

function showProblem(element, message) {
  if (!element) return;
  element.textContent = message;
  element.hidden = false;
}

async function postComment(form) {
  const problem = form.querySelector("[data-comment-error]");
  if (problem) problem.hidden = true;
  const text = form.elements.body.value;
  if (!text.trim()) {
    showProblem(problem, "Write something first.");
    return;
  }
  const body = { body: text };
  for (const name of ["session", "trace", "span"]) {
    if (form.dataset[name]) body[`${name}_id`] = form.dataset[name];
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const result = await send("POST", api().dataset.commentsUrl, body);
  button.disabled = false;
  if (!result.ok) {
    showProblem(problem, `The comment was not saved: ${result.message}`);
    return;
  }
  form.elements.body.value = "";
  location.reload();
}

async function deleteComment(button) {
  const url = new URL(api().dataset.commentsUrl, location.href);
  url.pathname = `${url.pathname}/${encodeURIComponent(button.dataset.commentDelete)}`;
  const result = await send("DELETE", url.toString());
  if (!result.ok) {
    showProblem(button.closest("[data-thread]")?.querySelector("[data-comment-error]"), result.message);
    return;
  }
  location.reload();
}

async function toggleStar(button) {
  const starred = button.getAttribute("aria-pressed") !== "true";
  const body = button.dataset.kind === "session" ? { session_id: button.dataset.id } : { trace_id: button.dataset.id };
  const result = await send(starred ? "PUT" : "DELETE", api().dataset.bookmarksUrl, body);
  if (!result.ok) {
    announce(`Not ${starred ? "starred" : "unstarred"}: ${result.message}`);
    button.title = result.message;
    return;
  }
  for (const same of document.querySelectorAll("[data-star]")) {
    if (same.dataset.kind === button.dataset.kind && same.dataset.id === button.dataset.id) {
      same.setAttribute("aria-pressed", String(starred));
      same.title = starred ? "Starred: click to unstar" : "Star";
    }
  }
  announce(starred ? "Starred" : "Unstarred");
}

// Capture: before a list's row handler sees the click (a star is no row click).
document.addEventListener(
  "click",
  (event) => {
    const star = event.target.closest("[data-star]");
    if (star && api()) {
      event.preventDefault();
      event.stopPropagation();
      toggleStar(star);
      return;
    }
    const remove = event.target.closest("[data-comment-delete]");
    if (remove && api()) {
      event.preventDefault();
      deleteComment(remove);
    }
  },
  true,
);

document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-comment-form]");
  if (!form || !api()) return;
  event.preventDefault();
  postComment(form);
});

document.addEventListener("keydown", (event) => {
  // Ctrl+Enter (or Cmd+Enter) in a comment sends it
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  const form = event.target.closest("[data-comment-form]");
  if (form) {
    event.preventDefault();
    postComment(form);
  }
});
