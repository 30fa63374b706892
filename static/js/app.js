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

// Progress bars carry their share as data-percent: the Content-Security-Policy refuses inline style
// attributes, so the width is set here, for the page and for every part htmx swaps in.
htmx.onLoad(function (root) {
  const bars = root.matches && root.matches("[data-percent]") ? [root] : [];
  bars.push(...root.querySelectorAll("[data-percent]"));
  for (const bar of bars) {
    const percent = Math.max(0, Math.min(100, parseFloat(bar.dataset.percent) || 0));
    bar.style.width = percent + "%";
  }
});

// The quota table refreshes every 5 seconds; a target being typed (focused, or changed and not yet set) would be
// wiped by the swap, so the refresh waits until the researcher sets it or leaves it as it was.
document.addEventListener("htmx:beforeRequest", function (event) {
  const table = event.detail.elt;
  if (!table || table.id !== "quota-table" || event.detail.requestConfig.verb !== "get") return;
  for (const input of table.querySelectorAll("input.target-input")) {
    if (input === document.activeElement || input.value !== input.defaultValue) {
      event.preventDefault();
      return;
    }
  }
});
