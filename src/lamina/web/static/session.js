// The session page: show or hide each turn's span tree.
import { enhance, fetchFragment } from "./app.js";
import "./annotate.js";
import "./notes.js";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-spans-toggle]");
  if (!button) return;
  const region = document.getElementById(button.getAttribute("aria-controls"));
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  region.hidden = !open;
});

// Turns past the server's time budget arrive as previews; fill them in as they come near.
async function fillIn(article) {
  const url = article.dataset.turnSrc;
  delete article.dataset.turnSrc;
  try {
    const doc = await fetchFragment(url);
    const full = doc.querySelector("article.turn");
    if (!full) return;
    const node = document.adoptNode(full);
    article.replaceWith(node);
    enhance(node);
  } catch {
    article.dataset.turnSrc = url; // try again when it comes into view next time
  }
}

const lazy = document.querySelectorAll("article.turn[data-turn-src]");
if (lazy.length) {
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) {
        if (!entry.isIntersecting || !entry.target.dataset.turnSrc) continue;
        observer.unobserve(entry.target);
        fillIn(entry.target);
      }
    },
    { rootMargin: "800px 0px" },
  );
  for (const article of lazy) observer.observe(article);
}

// Scores: thumbs on a turn and the session's outcome go to the JSON API as the
// signed-in user (author: their email, source: ui), then the page is read again.
const api = document.querySelector(".score-api");

async function send(url, method, body) {
  const problem = document.querySelector("[data-score-error]");
  problem.hidden = true;
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": api.dataset.csrf },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    response = null;
  }
  if (response && response.ok) return true;
  const answer = response ? await response.json().catch(() => null) : null;
  const message = answer && answer.error && answer.error.message;
  problem.textContent =
    message ||
    (response
      ? `The score was not saved: the server answered ${response.status}.`
      : "The score was not saved: the server could not be reached. Try again.");
  problem.hidden = false;
  return false;
}

function reloadAt(anchor) {
  if (anchor) history.replaceState(history.state, "", `#${anchor}`);
  location.reload();
}

document.addEventListener("click", async (event) => {
  if (!api) return;
  const thumb = event.target.closest("[data-thumbs]");
  if (thumb) {
    for (const b of thumb.parentElement.querySelectorAll("button")) b.disabled = true;
    const trace = thumb.dataset.trace;
    const mine = thumb.dataset.mine; // pressed again: take the rating back
    const ok = mine
      ? await send(api.dataset.scoresUrl.replace("/scores?", `/scores/${encodeURIComponent(mine)}?`), "DELETE")
      : await send(api.dataset.scoresUrl, "POST", {
          name: "thumbs",
          value: Number(thumb.dataset.thumbs),
          trace_id: trace,
        });
    if (ok) reloadAt(`turn-${trace}`);
    else for (const b of thumb.parentElement.querySelectorAll("button")) b.disabled = false;
    return;
  }
  const choice = event.target.closest("[data-set-outcome]");
  if (choice) {
    choice.closest("details").open = false;
    if (await send(api.dataset.endUrl, "POST", { outcome: choice.dataset.setOutcome })) reloadAt("");
  }
});
