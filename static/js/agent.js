// Keyboard work in the agent workspace: j/k move in the queue, Enter or o opens, x selects,
// r jumps to the reply box, Ctrl+Enter (or Cmd+Enter) sends, Esc leaves a field. Typing is never hijacked.
(() => {
  const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  const rows = () => Array.from(document.querySelectorAll("[data-ticket-row]"));
  const current = () => document.querySelector("[data-ticket-row].is-current");

  function move(step) {
    const all = rows();
    if (!all.length) return;
    const index = all.indexOf(current());
    const next = all[Math.min(all.length - 1, Math.max(0, index + step))] || all[0];
    all.forEach((row) => row.classList.remove("is-current"));
    next.classList.add("is-current");
    next.scrollIntoView({ block: "nearest" });
    sessionStorage.setItem("queue-current", next.id);
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest && event.target.closest("form[data-send-shortcut]");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.key === "Escape" && typing(event.target)) {
      event.target.blur();  // Esc leaves a field, so the shortcuts work again
      return;
    }
    if (typing(event.target) || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "j") move(1);
    else if (event.key === "k") move(-1);
    else if (event.key === "Enter" || event.key === "o") {
      const link = current() && current().querySelector("a[data-open]");
      if (link) link.click();
    } else if (event.key === "x") {
      const box = current() && current().querySelector("input[type=checkbox]");
      if (box) box.click();
    } else if (event.key === "r") {
      const reply = document.querySelector("#reply-body");
      if (reply) {
        event.preventDefault();
        reply.focus();
      }
    } else return;
  });

  // keep the highlighted row across htmx refreshes of the list
  document.addEventListener("htmx:afterSettle", () => {
    const id = sessionStorage.getItem("queue-current");
    const row = id && document.getElementById(id);
    if (row && !current()) row.classList.add("is-current");
  });
})();

// "Insert link" on a knowledge-base suggestion puts a markdown link to the article at the cursor of the reply
document.addEventListener("click", (event) => {
  const button = event.target.closest && event.target.closest("[data-insert-url]");
  const reply = document.querySelector("#reply-body");
  if (!button || !reply) return;
  event.preventDefault();
  const link = `[${button.dataset.insertTitle}](${button.dataset.insertUrl})`;
  const start = reply.selectionStart ?? reply.value.length;
  const end = reply.selectionEnd ?? start;
  reply.value = reply.value.slice(0, start) + link + reply.value.slice(end);
  reply.focus();
  reply.selectionStart = reply.selectionEnd = start + link.length;
});
