// Datasets (#22): the "Add to dataset" dialog of the session and trace pages
// (_dataset_add.html), and the Datasets pages' controls (datasets.html, dataset.html).
// Every change is a JSON API request as the signed-in user, with the page's CSRF token.
// Values are put in the page as text (textContent), never as markup.
import "./app.js";

async function send(method, url, csrf, body) {
  let response = null;
  try {
    response = await fetch(url, {
      method,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, answer: null };
  }
  const answer = await response.json().catch(() => null);
  return { ok: response.ok, status: response.status, answer };
}

function failure(result, what) {
  const message = result.answer && result.answer.error && result.answer.error.message;
  if (message) return message;
  return result.status
    ? `${what}: the server answered ${result.status}.`
    : `${what}: the server could not be reached. Try again.`;
}

// -- "Add to dataset" ---------------------------------------------------------------------------
const dialog = document.getElementById("dataset-add");
let target = null; // what the button that opened the dialog adds

function itemBody() {
  if (target.fromTrace) return { from_trace: target.fromTrace };
  const body = { from_session: target.fromSession };
  if (target.upToTurn) body.up_to_turn = Number(target.upToTurn);
  return body;
}

function describe() {
  if (target.fromTrace) {
    return "The item’s input is the trace’s input; its expected output, the trace’s output.";
  }
  if (target.upToTurn) {
    return `The item’s input is the conversation up to turn ${target.upToTurn}, its user message last; its expected output, that turn’s reply.`;
  }
  return "The item’s input is the whole conversation, turn by turn.";
}

function showNewName() {
  const choice = dialog.querySelector("[data-dataset-choice]");
  const field = dialog.querySelector("[data-dataset-new-name]");
  field.hidden = choice.value !== "";
  field.querySelector("input").required = choice.value === "";
}

async function openAdd(button) {
  target = { ...button.dataset };
  dialog.querySelector("[data-dataset-target]").textContent = target.targetLabel || "this";
  dialog.querySelector("[data-dataset-what]").textContent = describe();
  dialog.querySelector("[data-dataset-fields]").hidden = false;
  dialog.querySelector("[data-dataset-done]").hidden = true;
  dialog.querySelector("[data-dataset-submit]").hidden = false;
  const choice = dialog.querySelector("[data-dataset-choice]");
  for (const option of [...choice.options]) if (!option.hasAttribute("data-new-option")) option.remove();
  showNewName();
  const listed = await send("GET", dialog.dataset.api + dialog.dataset.project, dialog.dataset.csrf);
  const names = listed.ok && listed.answer ? listed.answer.items.map((d) => d.name) : [];
  const fresh = choice.querySelector("[data-new-option]");
  for (const name of names) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name;
    choice.insertBefore(option, fresh);
  }
  choice.value = names.length ? names[0] : "";
  showNewName();
}

async function add(form) {
  const problem = form.querySelector("[data-dialog-error]");
  const button = form.querySelector("[data-dataset-submit]");
  const csrf = dialog.dataset.csrf;
  problem.hidden = true;
  const chosen = form.elements.dataset.value;
  const name = chosen || form.elements.new_name.value.trim();
  if (!name) {
    problem.textContent = "Choose a dataset, or name a new one.";
    problem.hidden = false;
    return;
  }
  button.disabled = true;
  try {
    if (!chosen) {
      const made = await send("POST", dialog.dataset.api + dialog.dataset.project, csrf, { name });
      if (!made.ok) throw new Error(failure(made, "The dataset was not made"));
    }
    const url = `${dialog.dataset.api}/${encodeURIComponent(name)}/items${dialog.dataset.project}`;
    const added = await send("POST", url, csrf, itemBody());
    if (!added.ok) throw new Error(failure(added, "Nothing was added"));
    const done = form.querySelector("[data-dataset-done]");
    const link = document.createElement("a");
    link.href = `${dialog.dataset.page}/${encodeURIComponent(name)}#item-${added.answer.item.item_id}`;
    link.textContent = name;
    done.replaceChildren("Added to ", link, ".");
    done.hidden = false;
    form.querySelector("[data-dataset-fields]").hidden = true;
    button.hidden = true;
    link.focus();
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
  } finally {
    button.disabled = false;
  }
}

if (dialog) {
  document.addEventListener("click", (event) => {
    const button = event.target.closest('[data-open-dialog="dataset-add"]');
    if (button) openAdd(button);
  });
  dialog.querySelector("[data-dataset-choice]").addEventListener("change", showNewName);
  dialog.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault(); // a dialog form would close the dialog
    add(event.target);
  });
}

// -- the Datasets pages --------------------------------------------------------------------------
const api = document.querySelector(".dataset-api");

function showError(message) {
  const box = document.querySelector("[data-dataset-error]");
  box.textContent = message;
  box.hidden = false;
  box.scrollIntoView({ block: "nearest" });
}

// A field as the edit form holds it: JSON, or plain text kept as a string; empty: null.
function fieldValue(text, name) {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  try {
    return JSON.parse(trimmed);
  } catch {
    if (name === "metadata") throw new Error("Metadata must be a JSON object, such as {\"key\": \"value\"}.");
    return text;
  }
}

if (api) {
  const csrf = api.dataset.csrf;
  const newForm = document.querySelector("[data-dataset-new]");
  if (newForm) {
    newForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = newForm.elements.name.value.trim();
      const description = newForm.elements.description.value.trim() || null;
      const made = await send("POST", api.dataset.url + api.dataset.project, csrf, { name, description });
      if (!made.ok) return showError(failure(made, "The dataset was not made"));
      window.location.assign(`${api.dataset.page}/${encodeURIComponent(name)}`);
    });
  }
  for (const form of document.querySelectorAll("[data-item-edit]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = {
          input: fieldValue(form.elements.input.value, "input"),
          expected_output: fieldValue(form.elements.expected_output.value, "expected_output"),
          metadata: fieldValue(form.elements.metadata.value, "metadata"),
        };
      } catch (error) {
        return showError(error.message);
      }
      const url = `${api.dataset.url}/${encodeURIComponent(form.dataset.itemEdit)}${api.dataset.project}`;
      const saved = await send("PATCH", url, csrf, body);
      if (!saved.ok) return showError(failure(saved, "The item was not saved"));
      window.location.reload();
    });
  }
  for (const button of document.querySelectorAll("[data-item-delete]")) {
    button.addEventListener("click", async () => {
      if (!window.confirm("Delete this item?")) return;
      const url = `${api.dataset.url}/${encodeURIComponent(button.dataset.itemDelete)}${api.dataset.project}`;
      const deleted = await send("DELETE", url, csrf);
      if (!deleted.ok) return showError(failure(deleted, "The item was not deleted"));
      button.closest("tr").remove();
    });
  }
}
