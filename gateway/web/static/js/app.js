// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  // <form data-confirm="Stop tracking?">: ask before destructive posts.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  // <select data-autosubmit>: filters apply on change; the Apply button remains for no-JS.
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) el.form.requestSubmit();
  });

  // <input type="checkbox" data-check-all="name">: select every row checkbox of that name.
  document.addEventListener("change", function (event) {
    var el = event.target;
    var name = el.getAttribute && el.getAttribute("data-check-all");
    if (!name) return;
    document.querySelectorAll('input[type=checkbox][name="' + name + '"]').forEach(function (box) {
      box.checked = el.checked;
    });
  });
})();
