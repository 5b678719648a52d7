// kompy dashboard: the little the pages need beyond htmx. No inline script anywhere (the
// Content-Security-Policy forbids it); this file is loaded with defer.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]');

  // Every htmx request carries the session's CSRF token as a header too.
  document.body.addEventListener("htmx:configRequest", function (evt) {
    if (csrf) { evt.detail.headers["X-CSRF-Token"] = csrf.content; }
  });

  // A live table is not replaced under the user's fingers: while an input inside it has the
  // focus, the refresh waits until the focus leaves.
  document.body.addEventListener("htmx:beforeSwap", function (evt) {
    var target = evt.detail.target;
    var active = document.activeElement;
    if (target && target.id === "live" && active && active.tagName === "INPUT" &&
        target.contains(active)) {
      evt.detail.shouldSwap = false;
      target.dataset.stale = "1";
    }
  });
  document.body.addEventListener("focusout", function (evt) {
    var live = document.getElementById("live");
    if (live && live.dataset.stale && live.contains(evt.target)) {
      setTimeout(function () {
        if (!live.contains(document.activeElement) || document.activeElement.tagName !== "INPUT") {
          delete live.dataset.stale;
          htmx.trigger(live, "refresh");
        }
      }, 0);
    }
  });

  // Selects and checkboxes marked data-autosubmit submit their form when changed (the form
  // keeps a Show button for keyboards and for pages without script).
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });

  // Log search: lines without the text are hidden; new lines are filtered as they come, and a
  // followed log stays scrolled to its end.
  var search = document.querySelector("[data-log-search]");
  var log = document.getElementById("log");
  var count = document.getElementById("log-count");
  function filter() {
    if (!log) { return; }
    var needle = search ? search.value.toLowerCase() : "";
    var lines = log.querySelectorAll(".line");
    var shown = 0;
    lines.forEach(function (line) {
      var hit = !needle || line.textContent.toLowerCase().indexOf(needle) !== -1;
      line.hidden = !hit;
      if (hit) { shown += 1; }
    });
    if (count) {
      count.textContent = needle ? shown + " of " + lines.length + " lines match" : lines.length + " lines";
    }
  }
  if (search) { search.addEventListener("input", filter); }
  if (log) {
    log.addEventListener("htmx:sseMessage", function () {
      filter();
      if (log.hasAttribute("data-follow")) { log.scrollTop = log.scrollHeight; }
    });
    document.body.addEventListener("htmx:afterSwap", function (evt) {
      if (evt.detail.target === log) {
        filter();
        if (log.hasAttribute("data-follow")) { log.scrollTop = log.scrollHeight; }
      }
    });
  }
})();
