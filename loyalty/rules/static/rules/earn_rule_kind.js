/* Earn rule forms show only the parameters of the chosen kind (the server blanks the others). */
(function () {
  "use strict";
  var ALL = ["factor", "points", "min_amount", "every", "event"];

  function containerOf(select) {
    return select.closest(".inline-related") || select.closest("form") || document;
  }

  function rowsOf(container, name) {
    return container.querySelectorAll(".form-row.field-" + name + ", div.field-" + name);
  }

  function toggle(select) {
    var params = JSON.parse(select.getAttribute("data-kind-params") || "{}");
    var wanted = params[select.value] || [];
    var container = containerOf(select);
    ALL.forEach(function (name) {
      var show = !select.value || wanted.indexOf(name) !== -1;
      rowsOf(container, name).forEach(function (row) {
        var target = row.classList.contains("form-row") ? row : row.closest(".form-row") || row;
        if (target.querySelectorAll(".field-box, [class*='field-']").length > 1 && target !== row) {
          target = row;  // several fields on one line: hide just this one
        }
        target.style.display = show ? "" : "none";
      });
    });
  }

  function init(root) {
    (root || document).querySelectorAll("select.earn-rule-kind").forEach(toggle);
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("select.earn-rule-kind")) {
      toggle(event.target);
    }
  });
  document.addEventListener("formset:added", function (event) { init(event.target); });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
})();
