// Colour theme, read before the page is drawn (this script is not deferred): the reader's choice
// from the header's toggle if any, else the system's prefers-color-scheme, followed as it changes.
"use strict";

(function () {
  var KEY = "smartcron-theme";
  var media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;

  function chosen() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "dark" || value === "light" ? value : null;
    } catch (e) {
      return null;
    }
  }

  function apply() {
    var theme = chosen() || (media && media.matches ? "dark" : "light");
    document.documentElement.setAttribute("data-theme", theme);
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.setAttribute("aria-pressed", theme === "dark" ? "true" : "false");
    }
  }

  document.documentElement.classList.add("js");
  apply();
  if (media && media.addEventListener) {
    media.addEventListener("change", apply);
  }
  document.addEventListener("DOMContentLoaded", function () {
    apply();
    var button = document.getElementById("theme-toggle");
    if (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var dark = document.documentElement.getAttribute("data-theme") === "dark";
        try {
          window.localStorage.setItem(KEY, dark ? "light" : "dark");
        } catch (e) {
          // Storage refused (private mode): the choice lasts for this page only.
          document.documentElement.setAttribute("data-theme", dark ? "light" : "dark");
          button.setAttribute("aria-pressed", dark ? "false" : "true");
          return;
        }
        apply();
      });
    }
    var menu = document.getElementById("menu-toggle");
    if (menu) {
      menu.addEventListener("click", function () {
        var header = menu.closest("header");
        var open = header.classList.toggle("open");
        menu.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
  });
})();
