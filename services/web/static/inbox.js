// Switchboard inbox: live refresh and keyboard shortcuts. Plain JS, served as a file (the CSP forbids inline
// script). Fragments come from the server already escaped; this file never builds HTML from data.
(function () {
  "use strict";
  var POLL_MS = 2000;

  function rows() { return Array.prototype.slice.call(document.querySelectorAll("tr[data-href]")); }
  function selected() { return document.querySelector("tr.selected"); }

  function select(index) {
    var all = rows();
    if (!all.length) { return; }
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (r) { r.classList.remove("selected"); });
    all[index].classList.add("selected");
    all[index].scrollIntoView({ block: "nearest" });
    try { sessionStorage.setItem("sb-selected", all[index].getAttribute("data-href")); } catch (e) { /* private mode */ }
  }

  function restoreSelection() {
    var href = null;
    try { href = sessionStorage.getItem("sb-selected"); } catch (e) { /* private mode */ }
    var all = rows();
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute("data-href") === href) { all[i].classList.add("selected"); return; }
    }
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  document.addEventListener("click", function (ev) {
    var tr = ev.target.closest && ev.target.closest("tr[data-href]");
    if (tr && !ev.target.closest("a, button, input, select, textarea")) { window.location.href = tr.getAttribute("data-href"); }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.metaKey || ev.ctrlKey || ev.altKey || typing(ev.target)) { return; }
    var all = rows();
    var current = all.indexOf(selected());
    var form;
    switch (ev.key) {
      case "j": case "k":
        if (all.length) { select(ev.key === "j" ? current + 1 : (current < 0 ? 0 : current - 1)); break; }
        var link = document.getElementById(ev.key === "j" ? "next" : "prev");  // the item page: next/previous item
        if (link) { window.location.href = link.getAttribute("href"); } else { return; }
        break;
      case "o": case "Enter":
        if (selected()) { window.location.href = selected().getAttribute("data-href"); } else { return; }
        break;
      case "c":
        form = document.getElementById("claim-form");
        if (form) { form.submit(); } else { return; }
        break;
      case "r":
        var note = document.getElementById("resolve-note");
        if (note) { note.focus(); } else { return; }
        break;
      case "u":
        var back = document.getElementById("back");
        window.location.href = back ? back.getAttribute("href") : "/";
        break;
      default: return;
    }
    ev.preventDefault();
  });

  // Live: poll a tiny version number; when it moves, re-fetch each [data-live] fragment and swap it in.
  var live = Array.prototype.slice.call(document.querySelectorAll("[data-live]"));
  var version = null;
  function refresh() {
    live.forEach(function (el) {
      fetch(el.getAttribute("data-live"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var keep = selected() && selected().getAttribute("data-href");
          el.innerHTML = html;  // server-rendered and autoescaped; the CSP blocks any inline script anyway
          if (keep) { restoreSelection(); }
        })
        .catch(function () { /* next tick tries again */ });
    });
  }
  function poll() {
    fetch("/api/version", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (body && body.version !== version) { refresh(); }  // the first answer also refreshes: the page may be older
        if (body) { version = body.version; }
      })
      .catch(function () { /* offline for a moment */ })
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  if (live.length) { poll(); }
  restoreSelection();
})();
