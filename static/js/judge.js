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

// A failed submit (an error status, a dropped connection) is not swapped by htmx: the same item
// stays on screen. Say so, and let the keys work again so the annotator can send it once more
// (the server keeps one verdict per item, so a resend of a verdict that did land is harmless).
function judgeRequestFailed(event, reason) {
  const area = document.getElementById("judge-area");
  if (!area || !area.contains(event.detail.elt)) return;
  const form = document.getElementById("judge-form");
  if (form) delete form.dataset.sending;
  let message = document.getElementById("judge-error");
  if (!message) {
    message = document.createElement("span");
    message.id = "judge-error";
    message.className = "notice-inline error-inline";
    message.setAttribute("role", "alert");
    const notice = document.getElementById("judge-notice");
    if (notice) notice.remove();  // an earlier "Saved." would contradict the error
    area.querySelector(".judge-head").insertBefore(message, area.querySelector(".judge-head form"));
  }
  message.textContent = reason;
}
// The server's own words where it sent them (a 503 says whether the verdict was saved), else ours.
function serverMessage(xhr) {
  if (!xhr || !xhr.responseText) return "";
  const found = new DOMParser().parseFromString(xhr.responseText, "text/html").getElementById("database-unavailable");
  return found ? found.textContent : "";
}
function notSaved(why) { return "Not saved — the server did not answer (" + why + "). Press the key again."; }
document.addEventListener("htmx:responseError", function (event) {
  const xhr = event.detail.xhr;
  judgeRequestFailed(event, serverMessage(xhr) || notSaved(xhr ? String(xhr.status) : "error"));
});
document.addEventListener("htmx:sendError", function (event) { judgeRequestFailed(event, notSaved("no connection")); });
document.addEventListener("htmx:timeout", function (event) { judgeRequestFailed(event, notSaved("timed out")); });
