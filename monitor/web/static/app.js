// review-monitor inbox: small conveniences on top of forms that work without it.
// No inline scripts anywhere (the Content-Security-Policy forbids them); never builds
// HTML from data: only textContent and properties.
(function () {
  "use strict";

  // Countdowns tick from the server's clock (body[data-now]) plus the time spent on
  // the page, so they agree with the server even when this computer's clock is off.
  var serverNow = Date.parse(document.body.getAttribute("data-now") || "");
  var loadedAt = Date.now();

  function describe(ms) {
    var late = ms < 0;
    var seconds = Math.floor(Math.abs(ms) / 1000);
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var text;
    if (days) { text = days + "d " + hours + "h"; }
    else if (hours) { text = hours + "h " + (minutes < 10 ? "0" : "") + minutes + "m"; }
    else { text = minutes + "m"; }
    return text + (late ? " overdue" : " left");
  }

  function tick() {
    if (isNaN(serverNow)) { return; }
    var now = serverNow + (Date.now() - loadedAt);
    var clocks = document.querySelectorAll("time.countdown[data-due]");
    for (var i = 0; i < clocks.length; i++) {
      var due = Date.parse(clocks[i].getAttribute("data-due"));
      if (isNaN(due)) { continue; }
      clocks[i].textContent = describe(due - now);
      clocks[i].classList.toggle("overdue", due <= now);
    }
  }

  // Filters apply as soon as a choice is made.
  function autosubmit() {
    var selects = document.querySelectorAll("select.autosubmit");
    for (var i = 0; i < selects.length; i++) {
      selects[i].addEventListener("change", function (event) {
        var form = event.target.form;
        if (form) { form.submit(); }
      });
    }
  }

  // "Select all" for bulk actions.
  function selectAll() {
    var all = document.getElementById("select-all");
    if (!all) { return; }
    all.hidden = false;
    var picks = document.querySelectorAll("input.pick");
    all.addEventListener("change", function () {
      for (var i = 0; i < picks.length; i++) { picks[i].checked = all.checked; }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
    autosubmit();
    selectAll();
  });
})();
