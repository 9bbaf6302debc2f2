// The session page: show or hide each turn's span tree.
import { enhance, fetchFragment } from "./app.js";

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
