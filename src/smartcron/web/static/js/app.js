// smartcron dashboard: small helpers on top of htmx. No data is ever inserted as HTML here.
"use strict";

document.addEventListener("htmx:configRequest", function (event) {
  // htmx requests that change something carry the session's CSRF token in a header.
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});

// Live pages: one event stream per tab (sse-connect on <body>). The server sends a word at least
// every 4 seconds (a "beat" when nothing else happened); after 10 seconds of silence the page says
// it is stale, and the banner goes again as soon as the stream speaks.
(function () {
  var STALE_AFTER_MS = 10000;
  var KINDS = ["beat", "ready", "run", "task", "alert", "health", "node"];
  var lastWord = Date.now();
  var watched = typeof WeakSet === "function" ? new WeakSet() : null;

  function heard() {
    lastWord = Date.now();
    var banner = document.getElementById("stale");
    if (banner && !banner.hidden) {
      banner.hidden = true;
    }
  }

  document.addEventListener("htmx:sseOpen", function (event) {
    var source = event.detail && event.detail.source;
    heard();
    if (!source || (watched && watched.has(source))) {
      return;
    }
    if (watched) {
      watched.add(source);
    }
    KINDS.forEach(function (kind) {
      source.addEventListener(kind, heard);
    });
  });

  window.setInterval(function () {
    var banner = document.getElementById("stale");
    if (banner && banner.hidden && Date.now() - lastWord > STALE_AFTER_MS) {
      banner.hidden = false;
    }
  }, 1000);
})();
