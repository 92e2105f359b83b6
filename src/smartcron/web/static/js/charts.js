// Performance charts with uPlot, fed by the JSON API. Redrawn when the live event stream says runs
// changed (at most every 10 seconds) or the health monitor recorded new resource samples.
"use strict";

(function () {
  var RUNS_REDRAW_MS = 10000;
  var charts = {};

  function hours() {
    var select = document.getElementById("chart-hours");
    return select ? Number(select.value) : 24;
  }

  function width(element) {
    return Math.max(320, element.clientWidth || 800);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) {
        throw new Error(url + " answered " + r.status);
      }
      return r.json();
    });
  }

  // Times on the axes and in the legend: 24-hour, in the dashboard's display zone (data-zone on
  // <main>, the server's `display_timezone`), whatever the browser's own zone.
  var zone = (document.querySelector("[data-zone]") || document.documentElement).getAttribute("data-zone") || "UTC";
  var clock = new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  var day = new Intl.DateTimeFormat("en-GB", { timeZone: zone, day: "2-digit", month: "short" });
  var full = new Intl.DateTimeFormat("en-GB", {
    timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    hourCycle: "h23", timeZoneName: "short"
  });

  function axisTimes(u, splits) {
    var span = splits.length > 1 ? splits[splits.length - 1] - splits[0] : 0;
    return splits.map(function (ts) {
      var at = new Date(ts * 1000);
      return span > 36 * 3600 ? day.format(at) + " " + clock.format(at) : clock.format(at);
    });
  }

  function legendTime(u, ts) {
    return ts === null || ts === undefined ? "-" : full.format(new Date(ts * 1000));
  }

  function cssColour(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function draw(key, element, title, seriesLabels, data) {
    if (typeof window.uPlot !== "function") {
      element.textContent = "uPlot is not installed (run web/build).";
      return;
    }
    if (charts[key]) {
      charts[key].setData(data);
      return;
    }
    var colors = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2"];
    var series = [{ label: "time (" + zone + ")", value: legendTime }];
    seriesLabels.forEach(function (label, i) {
      series.push({ label: label, stroke: colors[i % colors.length], width: 1.5, spanGaps: false });
    });
    element.textContent = "";
    var ink = cssColour("--fg", "#111827"), grid = cssColour("--line", "#e5e7eb");
    var axes = [
      { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid }, values: axisTimes },
      { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid } }
    ];
    var options = { title: title, width: width(element), height: 240, series: series, axes: axes };
    if (typeof window.uPlot.tzDate === "function") {
      options.tzDate = function (ts) { return window.uPlot.tzDate(new Date(ts * 1000), zone); };
    }
    charts[key] = new window.uPlot(options, data, element);
    element.smartcronChart = charts[key];
  }

  function showError(element, error) {
    element.textContent = String(error.message || error);
  }

  function refreshActivity() {
    var h = hours();
    var runsEl = document.getElementById("chart-runs");
    var durationEl = document.getElementById("chart-duration");
    var failuresEl = document.getElementById("chart-failures");
    var perMinute = getJSON("/api/v1/stats/activity?hours=" + h + "&bucket=60");
    var coarse = getJSON("/api/v1/stats/activity?hours=" + h + "&bucket=" + Math.max(300, h * 60));
    perMinute.then(function (body) {
      var xs = [], runs = [];
      var perBucket = body.bucket_seconds / 60;
      body.buckets.forEach(function (b) {
        xs.push(Date.parse(b.start) / 1000);
        runs.push(b.runs / perBucket);
      });
      draw("runs", runsEl, "", ["runs per minute"], [xs, runs]);
    }).catch(function (e) { showError(runsEl, e); });
    coarse.then(function (body) {
      var xs = [], duration = [], failures = [];
      body.buckets.forEach(function (b) {
        xs.push(Date.parse(b.start) / 1000);
        duration.push(b.avg_duration_ms === null ? null : b.avg_duration_ms / 1000);
        failures.push(b.failure_rate === null ? null : b.failure_rate * 100);
      });
      draw("duration", durationEl, "", ["average seconds"], [xs, duration]);
      draw("failures", failuresEl, "", ["failed %"], [xs, failures]);
    }).catch(function (e) { showError(durationEl, e); showError(failuresEl, e); });
  }

  function refreshResources() {
    var element = document.getElementById("chart-resources");
    if (!element) {
      return;
    }
    var names = (element.getAttribute("data-metrics") || "").split(",").filter(Boolean).slice(0, 6);
    var h = hours();
    var step = Math.max(300, h * 30);
    Promise.all(names.map(function (name) {
      return getJSON("/api/v1/metrics/" + encodeURIComponent(name) + "?hours=" + h + "&step=" + step);
    })).then(function (bodies) {
      if (!bodies.length) {
        return;
      }
      var xs = bodies[0].points.map(function (p) { return Date.parse(p.at) / 1000; });
      var data = [xs];
      bodies.forEach(function (body) {
        data.push(body.points.map(function (p) { return p.value; }));
      });
      draw("resources", element, "", names, data);
    }).catch(function (e) { showError(element, e); });
  }

  function refresh() {
    refreshActivity();
    refreshResources();
  }

  // At most once per `ms`; a call inside the wait is made at its end, so the last change shows.
  function throttled(fn, ms) {
    var last = 0, pending = null;
    return function () {
      var wait = last + ms - Date.now();
      if (wait <= 0) {
        last = Date.now();
        fn();
      } else if (pending === null) {
        pending = window.setTimeout(function () { pending = null; last = Date.now(); fn(); }, wait);
      }
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("chart-hours");
    if (select) {
      select.addEventListener("change", function () {
        Object.keys(charts).forEach(function (key) { charts[key].destroy(); delete charts[key]; });
        refresh();
      });
    }
    refresh();
    var live = document.getElementById("charts-live");
    if (live) {
      live.addEventListener("sse:run", throttled(refreshActivity, RUNS_REDRAW_MS));
      live.addEventListener("sse:health", refreshResources);
    }
  });
})();
