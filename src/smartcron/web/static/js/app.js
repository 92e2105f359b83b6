// smartcron dashboard: small helpers on top of htmx. No data is ever inserted as HTML here.
"use strict";

document.addEventListener("htmx:configRequest", function (event) {
  // htmx requests that change something carry the session's CSRF token in a header.
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.getAttribute("content");
  }
});
