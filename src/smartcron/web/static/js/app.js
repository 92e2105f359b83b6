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

// A run's page: the elapsed time ticks from the run's start (as the server's clock saw it when it
// rendered the fragment, so a wrong clock here does not matter), and a followed log stays scrolled
// to its newest line unless the reader scrolled up.
(function () {
  function formatElapsed(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) {
      return seconds + " s";
    }
    if (seconds < 3600) {
      return Math.floor(seconds / 60) + " min " + (seconds % 60) + " s";
    }
    return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
  }

  window.setInterval(function () {
    document.querySelectorAll("[data-elapsed-since]").forEach(function (element) {
      var since = Date.parse(element.getAttribute("data-elapsed-since"));
      var serverNow = Date.parse(element.getAttribute("data-now"));
      if (isNaN(since) || isNaN(serverNow)) {
        return;
      }
      if (element.smartcronSkew === undefined) {
        element.smartcronSkew = serverNow - Date.now();
      }
      element.textContent = formatElapsed(Date.now() + element.smartcronSkew - since);
    });
  }, 1000);

  var PINNED_WITHIN_PX = 24;

  function follow(log) {
    if (log.smartcronFollowing) {
      return;
    }
    log.smartcronFollowing = true;
    var pinned = true;
    log.scrollTop = log.scrollHeight;
    log.addEventListener("scroll", function () {
      pinned = log.scrollTop + log.clientHeight >= log.scrollHeight - PINNED_WITHIN_PX;
    });
    if (typeof MutationObserver === "function") {
      new MutationObserver(function () {
        if (pinned) {
          log.scrollTop = log.scrollHeight;
        }
      }).observe(log, { childList: true, characterData: true, subtree: true });
    }
  }

  function followAll() {
    document.querySelectorAll("pre[data-follow]").forEach(follow);
  }

  document.addEventListener("DOMContentLoaded", followAll);
  document.addEventListener("htmx:load", followAll);
})();

// Actions answered in place (Run now, Pause, Resume, alert actions): the server names what
// happened in an HX-Trigger header; the message replaces the flash area's, built as text, with its
// link if any. Read from the request itself, not from the event htmx fires on the form: a live
// refresh of the grid can replace the form while its request is under way, and an event on a
// form no longer in the page reaches no listener.
(function () {
  function show(detail) {
    var area = document.getElementById("flash");
    if (!area || !detail || typeof detail.message !== "string") {
      return;
    }
    var message = document.createElement("p");
    message.className = detail.error ? "flash error" : "flash";
    message.textContent = detail.message;
    if (typeof detail.href === "string" && detail.href.charAt(0) === "/" && detail.href.charAt(1) !== "/") {
      var link = document.createElement("a");
      link.href = detail.href;
      link.textContent = detail.text || detail.href;
      message.appendChild(document.createTextNode(" "));
      message.appendChild(link);
    }
    area.replaceChildren(message);
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (!xhr || !event.detail.requestConfig || event.detail.requestConfig.verb !== "post") {
      return;
    }
    xhr.addEventListener("loadend", function () {
      var header = xhr.getResponseHeader("HX-Trigger");
      if (!header) {
        return;
      }
      try {
        show(JSON.parse(header)["smartcron:flash"]);
      } catch (e) {
        // Not ours (or not JSON): nothing to show.
      }
    });
  });
})();

// Forms that destroy something and are not sent by htmx (hx-confirm asks for those) ask first:
// data-confirm holds the question. A form with data-confirm-when asks only when that checkbox,
// checked when the page was drawn, has been unchecked (disabling a task in its edit form).
document.addEventListener(
  "submit",
  function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) {
      return;
    }
    var when = form.getAttribute("data-confirm-when");
    if (when) {
      var box = form.elements.namedItem(when);
      if (!box || !box.defaultChecked || box.checked) {
        return;
      }
    }
    if (!window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  },
  true
);
