// The "annotate" dialog (_annotate.html): a score of a chosen config (or a new numeric
// name) on a trace or span, with a comment, sent to POST /api/v1/scores as the
// signed-in user; the page is then read again at what was annotated.
const dialog = document.getElementById("annotate");

function showFields() {
  const form = dialog.querySelector("form");
  const option = form.elements.name.selectedOptions[0];
  const type = option.dataset.type;
  dialog.querySelector("[data-annotate-new]").hidden = option.value !== "";
  dialog.querySelector("[data-annotate-value]").hidden = type !== "numeric";
  dialog.querySelector("[data-annotate-bool]").hidden = type !== "boolean";
  dialog.querySelector("[data-annotate-label]").hidden = type !== "categorical";
  const value = form.elements.value;
  value.min = option.dataset.min ?? "";
  value.max = option.dataset.max ?? "";
  const labels = form.elements.label;
  labels.replaceChildren(
    ...JSON.parse(option.dataset.labels || "[]").map((label) => new Option(label, label)),
  );
}

function body(form) {
  const option = form.elements.name.selectedOptions[0];
  const score = {
    name: option.value || form.elements.new_name.value.trim(),
    trace_id: dialog.dataset.trace,
  };
  if (dialog.dataset.span) score.span_id = dialog.dataset.span;
  const type = option.dataset.type;
  if (type === "categorical") score.label = form.elements.label.value;
  else if (type === "boolean") score.value = form.elements.bool.value === "1";
  else score.value = form.elements.value.value === "" ? null : Number(form.elements.value.value);
  const comment = form.elements.comment.value.trim();
  if (comment) score.comment = comment;
  return score;
}

async function save(form) {
  const problem = form.querySelector("[data-dialog-error]");
  problem.hidden = true;
  let response = null;
  try {
    response = await fetch(dialog.dataset.scoresUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": dialog.dataset.csrf },
      credentials: "same-origin",
      body: JSON.stringify(body(form)),
    });
  } catch {
    response = null;
  }
  if (response && response.ok) {
    dialog.close();
    location.reload();
    return;
  }
  const answer = response ? await response.json().catch(() => null) : null;
  const message = answer && answer.error && answer.error.message;
  problem.textContent =
    message ||
    (response
      ? `The score was not saved: the server answered ${response.status}.`
      : "The score was not saved: the server could not be reached. Try again.");
  problem.hidden = false;
}

if (dialog) {
  document.addEventListener("click", (event) => {
    const button = event.target.closest('[data-open-dialog="annotate"]');
    if (!button) return;
    dialog.dataset.trace = button.dataset.trace;
    let span = button.dataset.span || "";
    if ("spanSelected" in button.dataset) {
      const selected = document.querySelector('.span-row[aria-selected="true"]');
      span = selected ? selected.dataset.id : "";
    }
    if (span) dialog.dataset.span = span;
    else delete dialog.dataset.span;
    dialog.querySelector("[data-annotate-target]").textContent =
      button.dataset.targetLabel || (span ? "this span" : "this trace");
    queueMicrotask(showFields); // after app.js has reset the form
  });
  dialog.querySelector("[data-annotate-name]").addEventListener("change", showFields);
  dialog.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault();
    save(event.target);
  });
}
