// The Evaluators pages: turn one on or off, try one on a session, add one (the editor's
// form or JSON), change one. Each sends the JSON API's request as the signed-in user
// (the page's CSRF token), then the page is read again; a refusal is shown as the
// server worded it, next to the field it names when it names one.
import "./app.js";

const api = document.querySelector(".evaluator-api");
const problem = document.querySelector("[data-evaluator-error]");

async function call(path, method, body, onError) {
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
  const message =
    (answer && answer.error && answer.error.message) ||
    (response
      ? `The server answered ${response.status}.`
      : "The server could not be reached. Try again.");
  if (onError) {
    onError(message, response ? response.status : 0);
  } else {
    problem.textContent = message;
    problem.hidden = false;
  }
  return null;
}

// -- the editor: its fields as a definition, and the API's errors next to them --------

const NUMBER = /^-?\d+(\.\d+)?(e-?\d+)?$/i;

function number(input) {
  const text = input.value.trim();
  if (text === "") return undefined;
  return NUMBER.test(text) ? Number(text) : text; // the server says what it must be
}

function given(value) {
  const text = value.trim();
  return text === "" ? undefined : text;
}

function metadataOf(text) {
  const found = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new Error("Each line of the metadata is key=value.");
    found[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return found;
}

function definitionOf(form) {
  const f = form.elements;
  const kind = f.kind.value;
  const body = {
    name: f.name.value.trim(),
    target: f.target.value,
    kind,
    description: given(f.description.value) ?? null,
    sample_rate: number(f.sample_rate),
    quiet_seconds: number(f.quiet_seconds),
    filter: {},
  };
  if (f.enabled) body.enabled = f.enabled.checked;
  if (given(f.filter_name.value)) body.filter.name = given(f.filter_name.value);
  if (given(f.filter_tag.value)) body.filter.tag = given(f.filter_tag.value);
  const metadata = metadataOf(f.filter_metadata.value);
  if (Object.keys(metadata).length) body.filter.metadata = metadata;
  if (kind === "check") {
    const type = f.check_type.value;
    const params = {};
    const box = form.querySelector(`[data-check-params="${type}"]`);
    for (const input of box.querySelectorAll("[data-param]")) {
      const value = input.hasAttribute("data-number") ? number(input) : given(input.value);
      if (value !== undefined) params[input.dataset.param] = value;
    }
    body.check = { type, params };
  } else {
    const score = { name: f.score_name.value.trim(), type: f.score_type.value };
    for (const [key, input] of [["min", f.score_min], ["max", f.score_max]]) {
      const value = number(input);
      if (value !== undefined) score[key] = value;
    }
    const categories = f.score_categories.value.split(",").map((c) => c.trim()).filter(Boolean);
    if (categories.length) score.categories = categories;
    body.llm = {
      base_url: f.base_url.value.trim(),
      model: f.model.value.trim(),
      api_key_env: given(f.api_key_env.value) ?? null,
      prompt: f.prompt.value,
      score,
    };
    if (f.api_key.value) body.llm.api_key = f.api_key.value; // write-only: never shown
    else if (f.remove_key && f.remove_key.checked) body.llm.api_key = null;
    body.budget = {};
    for (const name of ["calls_per_day", "tokens_per_day"]) {
      const value = number(f[name]);
      if (value !== undefined) body.budget[name] = value;
    }
  }
  for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
  return body;
}

function clearErrors(form) {
  for (const slot of form.querySelectorAll("[data-error-for]")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
}

function escaped(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// The API's message names the field ("sample_rate must be ...", "max_cost needs
// check.params.max"): shown under the visible field whose path it names (the longest),
// else above the buttons.
function showError(form, message, status) {
  const slots = [...form.querySelectorAll("[data-error-for]")].filter(
    (slot) => slot.dataset.errorFor && !slot.parentElement.closest("[hidden]"),
  );
  slots.sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length);
  let slot = slots.find((s) =>
    new RegExp(`(^|[^\\w.])${escaped(s.dataset.errorFor)}(?!\\w)`).test(message),
  );
  if (status === 409) slot = form.querySelector('[data-error-for="name"]');
  slot = slot || form.querySelector('[data-error-for=""]');
  slot.textContent = message;
  slot.hidden = false;
  const field = slot.closest(".field");
  const input = field && field.querySelector("input, select, textarea");
  if (input) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }
}

document.addEventListener("change", (event) => {
  const form = event.target.closest("[data-evaluator-form]");
  if (!form) return;
  if (event.target.matches("[data-kind-select]")) {
    for (const box of form.querySelectorAll("fieldset[data-kind]")) {
      box.hidden = box.dataset.kind !== event.target.value;
    }
  } else if (event.target.matches("[data-check-select]")) {
    for (const box of form.querySelectorAll("[data-check-params]")) {
      box.hidden = box.dataset.checkParams !== event.target.value;
    }
  }
});

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
  if (form.matches("[data-evaluator-form]")) {
    event.preventDefault();
    clearErrors(form);
    let body;
    try {
      body = definitionOf(form);
    } catch (error) {
      showError(form, `filter.metadata: ${error.message}`, 400);
      return;
    }
    const id = form.dataset.evaluatorId;
    const path = id ? `/${encodeURIComponent(id)}` : "";
    const onError = (message, status) => showError(form, message, status);
    if (await call(path, id ? "PUT" : "POST", body, onError)) location.reload();
  } else if (form.matches("[data-backfill]")) {
    event.preventDefault();
    const body = {};
    for (const name of ["since", "until"]) {
      const value = form.elements[name].value; // the viewer's local time
      if (value) body[name] = new Date(value).toISOString();
    }
    const path = `/${encodeURIComponent(form.dataset.backfill)}/backfill`;
    if (await call(path, "POST", body)) location.reload();
  } else if (form.matches("[data-add-evaluator]")) {
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

// A backfill's progress: read the page again every few seconds while runs remain,
// unless the editor's form was changed or has the focus (a reload would lose it).
const progress = document.querySelector("[data-progress]");
if (progress) {
  const editor = document.querySelector("[data-evaluator-form]");
  let edited = false;
  if (editor) editor.addEventListener("input", () => (edited = true));
  setInterval(() => {
    const busy = editor && (edited || editor.contains(document.activeElement));
    if (!busy) location.reload();
  }, Number(progress.dataset.refreshSeconds) * 1000);
}
