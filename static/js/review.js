// Reviewing by keyboard: a approves (then the next example opens), r moves to the comment box where
// Ctrl/Cmd+Enter rejects, e edits, n skips to the next example, Esc leaves the comment box.
document.addEventListener("keydown", function (event) {
  const form = document.getElementById("review-form");
  if (!form) return;
  const comment = document.getElementById("review-comment");
  if (document.activeElement === comment) {
    if (event.key === "Escape") comment.blur();
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      document.getElementById("reject").click();
    }
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target.closest && event.target.closest("input, textarea, select, [contenteditable]")) return;
  const targets = { a: "approve", e: "edit-example", n: "skip-example" };
  if (event.key === "r") {
    event.preventDefault();
    comment.focus();
    return;
  }
  const control = targets[event.key] && document.getElementById(targets[event.key]);
  if (control && !control.disabled) {
    event.preventDefault();
    if (form.dataset.sending && control.id === "approve") return;  // one decision, however often the key is pressed
    if (control.id === "approve") form.dataset.sending = "1";
    control.click();
  }
});
