// The Evaluators page: turn one on or off, try one on a session, add one. Each sends
// the JSON API's request as the signed-in user (the page's CSRF token), then the page
// is read again; a refusal is shown as the server worded it.
import "./app.js";

const api = document.querySelector(".evaluator-api");
const problem = document.querySelector("[data-evaluator-error]");

async function call(path, method, body) {
  problem.hidden = true;
  let response = null;
  try {
    response = await fetch(`${api.dataset.url}${path}${api.dataset.project}`, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": api.dataset.csrf },
      credentials: "same-origin",
      body: JSON.stringify(body),
    });
  } catch {
    response = null;
  }
  const answer = response ? await response.json().catch(() => null) : null;
  if (response && response.ok) return answer;
  const message = answer && answer.error && answer.error.message;
  problem.textContent =
    message ||
    (response
      ? `The server answered ${response.status}.`
      : "The server could not be reached. Try again.");
  problem.hidden = false;
  return null;
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-toggle]");
  if (!button) return;
  const enabled = button.getAttribute("aria-checked") !== "true";
  if (await call(`/${encodeURIComponent(button.dataset.toggle)}`, "PUT", { enabled })) {
    location.reload();
  }
});

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.matches("[data-add-evaluator]")) {
    event.preventDefault();
    let definition;
    try {
      definition = JSON.parse(form.elements.definition.value);
    } catch (error) {
      problem.textContent = `The definition is not JSON: ${error.message}`;
      problem.hidden = false;
      return;
    }
    if (await call("", "POST", definition)) location.reload();
  } else if (form.matches("[data-try]")) {
    event.preventDefault();
    const output = form.querySelector("[data-try-result]");
    output.textContent = "Trying…";
    const body = { [form.dataset.field]: form.elements.target.value.trim() };
    const tried = await call(`/${encodeURIComponent(form.dataset.try)}/test`, "POST", body);
    if (!tried) {
      output.textContent = "";
    } else if (tried.error) {
      output.textContent = `The judge gave no score: ${tried.error}`;
    } else if (!tried.score) {
      output.textContent = `Skipped: ${tried.skipped}`;
    } else {
      const turn = tried.score.trace_id ? ` on turn ${tried.score.trace_id.slice(0, 8)}…` : "";
      output.textContent = `${tried.score.name} = ${tried.score.value}${turn}: ${tried.score.comment}`;
    }
  }
});
