// Progressive enhancement for the admin console: copy buttons and confirmations. Every page
// works without it (values are in selectable read-only fields; forms post normally).
document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-copy]");
  if (!b) return;
  const input = document.getElementById(b.dataset.copy);
  if (!input) return;
  input.select();
  navigator.clipboard?.writeText(input.value).then(() => {
    const old = b.textContent;
    b.textContent = "Copied";
    setTimeout(() => (b.textContent = old), 1500);
  });
});
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});
