// Autopay rule pages (staff and client): ask before deleting a rule, and name what "Days"
// means for the timing chosen. The pages work without it.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var question = event.target.dataset ? event.target.dataset.confirm : "";
    if (question && !window.confirm(question)) event.preventDefault();
  });

  var DAYS_LABELS = {
    days_before_due: "Days before the due date",
    days_after_due: "Days after the due date",
    days_after_invoice: "Days after the invoice date",
    day_of_month: "Day of the month (1-31)",
  };

  function relabel(select) {
    var form = select.form;
    var label = form && form.querySelector("label[for=id_days]");
    if (label && DAYS_LABELS[select.value]) label.textContent = DAYS_LABELS[select.value];
  }

  document.querySelectorAll("select[name=timing]").forEach(function (select) {
    relabel(select);
    select.addEventListener("change", function () { relabel(select); });
  });
})();
