// Judging by keyboard: 1/2/3 submit a verdict, U undoes, R writes a reason, Esc leaves the reason box.
document.addEventListener("keydown", function (event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const reason = document.getElementById("reason");
  if (document.activeElement === reason) {
    if (event.key === "Escape") reason.blur();
    return;
  }
  if (event.target.closest && event.target.closest("input, textarea, select")) return;
  const form = document.getElementById("judge-form");
  const button = form && form.querySelector('button[data-key="' + event.key + '"]');
  if (button) {
    event.preventDefault();
    if (form.dataset.sending) return;  // one verdict per item, whatever the key repeat does
    form.dataset.sending = "1";
    // A key pressed right after a swap can beat htmx to the new form; process it first so the
    // verdict always goes through htmx (the form's plain POST fallback would reload the page).
    if (window.htmx) htmx.process(form);
    button.click();  // a click, not requestSubmit: htmx takes the pressed button's value from the click
  } else if (event.key === "u" || event.key === "U") {
    event.preventDefault();
    const undo = document.getElementById("undo");
    if (window.htmx) htmx.process(undo.form);
    undo.click();
  } else if ((event.key === "r" || event.key === "R") && reason) {
    event.preventDefault();
    reason.focus();
  }
});
