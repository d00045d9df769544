// The language chooser submits on change (an external script: the pages' CSP allows no inline
// handlers). Without JavaScript the chooser's own button submits.
document.addEventListener("DOMContentLoaded", function () {
  var chooser = document.getElementById("language-chooser");
  if (!chooser) return;
  var select = chooser.querySelector("select[name=language]");
  if (select) select.addEventListener("change", function () { chooser.submit(); });
});
