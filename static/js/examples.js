// The example list: one box chooses every submitted example on the page.
document.addEventListener("change", function (event) {
  if (event.target.id !== "pick-all") return;
  for (const box of document.querySelectorAll('#example-table input[name="pick"]')) box.checked = event.target.checked;
});
