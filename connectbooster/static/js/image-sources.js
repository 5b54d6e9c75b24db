// Invoice Image Data: reorder the sources by dragging (SortableJS) or with the up/down buttons.
// The hidden "order" inputs move with their rows, so the form posts the order as shown.
(function () {
  "use strict";
  var list = document.getElementById("image-sources");
  if (!list) return;
  var form = document.getElementById("image-sources-form");
  var dirty = document.getElementById("image-sources-dirty");
  var live = document.getElementById("image-sources-live");

  function rows() { return Array.prototype.slice.call(list.querySelectorAll(".image-source")); }

  function changed(row) {
    dirty.classList.remove("d-none");
    var all = rows();
    all.forEach(function (r, i) {
      r.querySelector(".move-up").disabled = i === 0;
      r.querySelector(".move-down").disabled = i === all.length - 1;
    });
    if (row) {
      live.textContent = row.dataset.name + " moved to position " + (all.indexOf(row) + 1) + " of " + all.length + ".";
    }
  }

  if (window.Sortable) {
    window.Sortable.create(list, {
      handle: ".drag-handle",
      animation: 150,
      forceFallback: true, // mouse events rather than HTML5 drag and drop: works the same everywhere
      onEnd: function (evt) { if (evt.oldIndex !== evt.newIndex) changed(evt.item); },
    });
  }

  list.addEventListener("click", function (evt) {
    var button = evt.target.closest(".move-up, .move-down");
    if (!button) return;
    var row = button.closest(".image-source");
    if (button.classList.contains("move-up") && row.previousElementSibling) {
      list.insertBefore(row, row.previousElementSibling);
    } else if (button.classList.contains("move-down") && row.nextElementSibling) {
      list.insertBefore(row.nextElementSibling, row);
    } else {
      return;
    }
    changed(row);
    // Keep the focus on the same control so the row can be moved again with the keyboard.
    var again = row.querySelector(button.classList.contains("move-up") ? ".move-up" : ".move-down");
    (again.disabled ? row.querySelector(".move-up:not(:disabled), .move-down:not(:disabled)") : again).focus();
  });

  list.addEventListener("change", function () { changed(null); });

  form.addEventListener("submit", function () {
    // A double click sends one request.
    var save = form.querySelector("[type=submit]");
    setTimeout(function () { save.disabled = true; }, 0);
  });

  // Initial state of the up/down buttons.
  var all = rows();
  all.forEach(function (r, i) {
    r.querySelector(".move-up").disabled = i === 0;
    r.querySelector(".move-down").disabled = i === all.length - 1;
  });
})();
