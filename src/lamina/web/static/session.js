// The session page: show or hide each turn's span tree.
import "./app.js";

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-spans-toggle]");
  if (!button) return;
  const region = document.getElementById(button.getAttribute("aria-controls"));
  const open = button.getAttribute("aria-expanded") !== "true";
  button.setAttribute("aria-expanded", String(open));
  region.hidden = !open;
});
