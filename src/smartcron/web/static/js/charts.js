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

  function round(v) {
    return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
  }

  function cssColour(name, fallback) {
    var value = window.getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  function draw(key, element, title, seriesLabels, data, unit) {
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
      series.push({
        label: label, stroke: colors[i % colors.length], width: 1.5, spanGaps: false,
        value: function (u, v) { return v === null || v === undefined ? "-" : round(v) + (unit ? " " + unit : ""); }
      });
    });
    element.textContent = "";
    var ink = cssColour("--fg", "#111827"), grid = cssColour("--line", "#e5e7eb");
    var axes = [
      { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid }, values: axisTimes },
      { stroke: ink, grid: { stroke: grid }, ticks: { stroke: grid }, label: unit || "", size: 60 }
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

  // Buckets sized to the range: a few hundred points per series (6 h: 1 min, 24 h: 5 min, 7 days:
  // 30 min, 30 days: 3 h), not 1,440 one-minute buckets for a day.
  var BUCKETS = [60, 300, 900, 1800, 3600, 10800, 21600, 86400];
  var MOST_POINTS = 400;

  function bucketFor(h) {
    var wanted = h * 3600 / MOST_POINTS;
    for (var i = 0; i < BUCKETS.length; i++) {
      if (BUCKETS[i] >= wanted) {
        return BUCKETS[i];
      }
    }
    return BUCKETS[BUCKETS.length - 1];
  }

  function refreshActivity() {
    var h = hours();
    var runsEl = document.getElementById("chart-runs");
    var durationEl = document.getElementById("chart-duration");
    var failuresEl = document.getElementById("chart-failures");
    getJSON("/api/v1/stats/activity?hours=" + h + "&bucket=" + bucketFor(h)).then(function (body) {
      var xs = [], runs = [], duration = [], failures = [];
      var minutes = body.bucket_seconds / 60;
      body.buckets.forEach(function (b) {
        xs.push(Date.parse(b.start) / 1000);
        runs.push(b.runs / minutes);
        duration.push(b.avg_duration_ms === null ? null : b.avg_duration_ms / 1000);
        failures.push(b.failure_rate === null ? null : b.failure_rate * 100);
      });
      draw("runs", runsEl, "", ["runs per minute"], [xs, runs], "runs/min");
      draw("duration", durationEl, "", ["average duration"], [xs, duration], "s");
      draw("failures", failuresEl, "", ["failed"], [xs, failures], "%");
    }).catch(function (e) { showError(runsEl, e); showError(durationEl, e); showError(failuresEl, e); });
  }

  // One unit per chart: the percentages together, the sizes in MB together.
  function unitOf(name) {
    if (name.indexOf("percent") !== -1) {
      return "%";
    }
    return /_mb$/.test(name) ? "MB" : "";
  }

  // Series sampled at different instants share one time axis: the union of their times, each
  // series empty where it has no sample.
  function aligned(bodies) {
    var times = {};
    bodies.forEach(function (body) {
      body.points.forEach(function (p) { times[Date.parse(p.at) / 1000] = true; });
    });
    var xs = Object.keys(times).map(Number).sort(function (a, b) { return a - b; });
    var data = [xs];
    bodies.forEach(function (body) {
      var byTime = {};
      body.points.forEach(function (p) { byTime[Date.parse(p.at) / 1000] = p.value; });
      data.push(xs.map(function (x) { return x in byTime ? byTime[x] : null; }));
    });
    return data;
  }

  function refreshResources() {
    var element = document.getElementById("chart-resources");
    if (!element) {
      return;
    }
    var names = (element.getAttribute("data-metrics") || "").split(",").filter(Boolean);
    var groups = {};
    names.forEach(function (name) {
      var unit = unitOf(name);
      (groups[unit] = groups[unit] || []).push(name);
    });
    var h = hours();
    var step = bucketFor(h);
    Object.keys(groups).sort().forEach(function (unit) {
      var members = groups[unit].slice(0, 6);
      var key = "resources-" + (unit === "%" ? "percent" : unit || "other").toLowerCase();
      var box = document.getElementById("chart-" + key);
      if (!box) {
        box = document.createElement("div");
        box.id = "chart-" + key;
        box.setAttribute("data-unit", unit);
        var heading = document.createElement("h3");
        heading.textContent = unit === "%" ? "Usage, %" : unit === "MB" ? "Sizes, MB" : "Other";
        element.appendChild(heading);
        element.appendChild(box);
      }
      Promise.all(members.map(function (name) {
        return getJSON("/api/v1/metrics/" + encodeURIComponent(name) + "?hours=" + h + "&step=" + step);
      })).then(function (bodies) {
        draw(key, box, "", members, aligned(bodies), unit);
      }).catch(function (e) { showError(box, e); });
    });
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
        var url = new URL(window.location.href);  // the range lives in the URL, as every filter does
        url.searchParams.set("hours", select.value);
        window.history.replaceState(null, "", url.toString());
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
