// The "Share" dialog (_share.html): makes a share link with POST .../share as the
// signed-in user, then shows it with a copy button.
const dialog = document.getElementById("share");

function reset() {
  dialog.querySelector("[data-share-fields]").hidden = false;
  dialog.querySelector("[data-share-made]").hidden = true;
  dialog.querySelector("[data-share-create]").hidden = false;
}

async function create(form) {
  const problem = form.querySelector("[data-dialog-error]");
  const button = form.querySelector("[data-share-create]");
  problem.hidden = true;
  button.disabled = true;
  let response = null;
  try {
    response = await fetch(dialog.dataset.shareUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": dialog.dataset.csrf },
      credentials: "same-origin",
      body: JSON.stringify({
        expires_in_days: Number(form.elements.expires_in_days.value),
        redact_attributes: form.elements.redact_attributes.checked,
      }),
    });
  } catch {
    response = null;
  }
  button.disabled = false;
  const answer = response ? await response.json().catch(() => null) : null;
  if (response && response.ok && answer) {
    const link = form.querySelector("[data-share-link]");
    link.value = answer.url;
    form.querySelector("[data-share-made] [data-copy]").dataset.copy = answer.url;
    const expires = new Date(answer.expires_at);
    form.querySelector("[data-share-expiry]").textContent =
      `It works until ${expires.toLocaleString()}. Copy it now: Lamina keeps only a hash of it.`;
    form.querySelector("[data-share-fields]").hidden = true;
    form.querySelector("[data-share-made]").hidden = false;
    button.hidden = true;
    link.focus();
    link.select();
    return;
  }
  const message = answer && answer.error && answer.error.message;
  problem.textContent =
    message ||
    (response
      ? `No link was made: the server answered ${response.status}.`
      : "No link was made: the server could not be reached. Try again.");
  problem.hidden = false;
}

if (dialog) {
  document.addEventListener("click", (event) => {
    if (event.target.closest('[data-open-dialog="share"]')) reset();
  });
  dialog.querySelector("form").addEventListener("submit", (event) => {
    event.preventDefault(); // a dialog form would close the dialog
    create(event.target);
  });
}
