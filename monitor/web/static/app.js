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

  // Filters apply as soon as a choice is made with the mouse or a finger. From the
  // keyboard, arrow keys change a closed select one option at a time: submitting on
  // each would reload the page at the first key press, so there Enter applies it
  // (or the Filter button).
  function autosubmit() {
    var selects = document.querySelectorAll("select.autosubmit");
    for (var i = 0; i < selects.length; i++) {
      selects[i].addEventListener("keydown", function (event) {
        event.target.setAttribute("data-keyboard", "1");
        if (event.key === "Enter" && event.target.form) {
          event.preventDefault();
          event.target.form.submit();
        }
      });
      selects[i].addEventListener("mousedown", function (event) {
        event.target.removeAttribute("data-keyboard");
      });
      selects[i].addEventListener("change", function (event) {
        var form = event.target.form;
        if (form && !event.target.hasAttribute("data-keyboard")) { form.submit(); }
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

  // The inbox asks every minute (and when the tab comes back into view) whether newer
  // mentions match its filters, and offers a reload instead of moving rows under the
  // reader's cursor.
  function watchForNew() {
    var banner = document.getElementById("fresh");
    if (!banner || !window.fetch) { return; }
    var shown = parseInt(banner.getAttribute("data-newest") || "0", 10);
    var busy = false;
    function check() {
      if (busy || !banner.hidden) { return; }
      busy = true;
      window.fetch(banner.getAttribute("data-check"), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (data) {
        if (data && data.newest > shown) { banner.hidden = false; }
      }).catch(function () { /* offline for a moment: try again later */ })
        .then(function () { busy = false; });
    }
    window.setInterval(check, 60000);
    window.addEventListener("focus", check);
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden) { check(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 30000);
    autosubmit();
    selectAll();
    watchForNew();
  });
})();
