// Small behaviours shared by every page. Page-specific keyboard shortcuts live with their pages.
document.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  const box = document.createElement("div");
  box.className = "toast error";
  box.setAttribute("role", "alert");
  box.textContent = status === 404 ? "That item is no longer available." : `Something went wrong (${status}). Your input is kept; please try again.`;
  document.body.appendChild(box);
  setTimeout(() => box.remove(), 6000);
});
