// Candidate review: one keystroke per decision (a accept, e edit, r reject, u undo the last decision, m multi-turn dialogue).
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target.closest("input, textarea, select, [contenteditable]")) return;
  const panel = document.getElementById("candidate-panel");
  const control = panel && panel.querySelector('[data-key="' + event.key + '"]');
  if (control && !control.disabled) {
    event.preventDefault();
    control.click();
  }
});
