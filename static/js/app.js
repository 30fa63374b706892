// Keyboard shortcuts for the example editor: Ctrl/Cmd+S saves now, Ctrl/Cmd+Enter submits for review.
document.addEventListener("keydown", function (event) {
  const form = document.getElementById("example-form");
  if (!form || !(event.ctrlKey || event.metaKey)) return;
  if (event.key === "s") {
    event.preventDefault();
    htmx.trigger(form, "change");
  } else if (event.key === "Enter") {
    const submit = document.getElementById("submit-example");
    if (submit) { event.preventDefault(); submit.click(); }
  }
});
