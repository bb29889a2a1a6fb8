// weir's live dashboard: polls the stats API every few seconds and redraws in place.
// Every value from the data goes into the page as text (textContent, SVG attributes), never
// as markup: URLs, sections and authors come from the tracked pages, so they are untrusted.
(function () {
  "use strict";
  var REFRESH_MS = 5000;
  var params = new URLSearchParams(location.search);
  var state = { site: params.get("site") || "", key: params.get("key") || "", url: null, seen: null,
                dimension: null, value: null };
  var status = (window.weirDashboard = { refreshes: 0, lastError: null, arriving: false });

  function $(id) { return document.getElementById(id); }
  function fmt(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); }

  function api(path, query) {
    var q = new URLSearchParams(query);
    if (state.site) q.set("site", state.site);
    var headers = state.key ? { "X-API-Key": state.key } : {};
    return fetch("api/" + path + "?" + q.toString(), { headers: headers }).then(function (r) {
      if (!r.ok) return r.json().then(function (b) { throw new Error(path + ": " + (b.error || r.status)); });
      return r.json();
    });
  }

  function change(now, before) {
    if (!before) return now ? "new this week" : "";
    var pct = Math.round((100 * (now - before)) / before);
    return (pct >= 0 ? "+" : "") + pct + "% on a week ago (" + fmt(before) + ")";
  }

  function drawNow(body) {
    // "live" only while page views arrive: none in the last 30 minutes is said, not shown as live.
    var last30 = body.rows.filter(function (r) { return r.minutes === 30; })[0];
    status.arriving = !!(last30 && last30.pageviews > 0);
    body.rows.forEach(function (row) {
      ["visitors", "pageviews"].forEach(function (m) {
        var id = "now-" + m + "-" + row.minutes;
        $(id).textContent = fmt(row[m]);
        var wk = $(id + "-wk");
        wk.textContent = change(row[m], row[m + "_week_ago"]);
        wk.className = row[m] >= row[m + "_week_ago"] ? "up" : "down";
      });
    });
  }

  function drawToday(body) {
    // Today is the site's own day (its time zone); across sites, each site's own day.
    var total = body.rows.reduce(function (sum, r) { return sum + r.pageviews; }, 0);
    $("today-pageviews").textContent = fmt(total);
    $("today-when").textContent = body.timezone === "each site's own"
      ? "since midnight, each site's own time"
      : "since midnight, " + body.timezone.replace(/_/g, " ") + " time";
  }

  function drawTop(body) {
    var tbody = $("top-pages").tBodies[0];
    var fresh = document.createDocumentFragment();
    var urls = {};
    body.rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.url = row.url;
      if (state.seen && !state.seen[row.url]) tr.className = "new";
      urls[row.url] = true;
      var a = document.createElement("a");
      a.textContent = row.url.replace(/^https?:\/\//, "");
      a.title = row.url;
      a.className = row.url === state.url ? "chosen" : "";
      a.addEventListener("click", function () { choose(row.url); });
      var first = document.createElement("td");
      first.appendChild(a);
      tr.appendChild(first);
      [row.pageviews, row.visitors, row.engaged_seconds_per_visitor].forEach(function (v) {
        var td = document.createElement("td");
        td.textContent = fmt(v);
        tr.appendChild(td);
      });
      fresh.appendChild(tr);
    });
    if (!body.rows.length) {
      var empty = document.createElement("tr"), td = document.createElement("td");
      td.colSpan = 4;
      td.className = "empty";
      td.textContent = "No page views in the last 30 minutes.";
      empty.appendChild(td);
      fresh.appendChild(empty);
    }
    tbody.replaceChildren(fresh);
    state.seen = urls;
  }

  // Country codes (ISO 3166-1) in the editor's words: "GB" is shown as "United Kingdom".
  var regionNames = window.Intl && Intl.DisplayNames ? new Intl.DisplayNames(["en"], { type: "region" }) : null;
  function countryName(code) {
    if (code === "(unknown)") return "Unknown";
    try { return (regionNames && regionNames.of(code)) || code; } catch (e) { return code; }
  }
  function missing(words) { return function (value) { return value === "(none)" ? words : value; }; }
  var shown = { country: countryName, section: missing("No section"), author: missing("No author") };
  function shownValue(dimension, value) { return shown[dimension] ? shown[dimension](value) : value; }

  function drawBars(id, body, pickable) {
    var max = Math.max.apply(null, body.rows.map(function (r) { return r.pageviews; }).concat([1]));
    // A row with no page views ("(none) 0") says nothing to an editor: left out.
    var items = body.rows.filter(function (row) { return row.pageviews > 0; }).map(function (row) {
      var li = document.createElement("li");
      if (pickable && row[body.by] !== "(none)" && row[body.by] !== "(unknown)") {
        li.className = "pick" + (state.dimension === body.by && state.value === row[body.by] ? " chosen" : "");
        li.title = "chart " + body.by + " " + shownValue(body.by, row[body.by]);
        li.addEventListener("click", function () { chooseValue(body.by, row[body.by]); });
      }
      var bar = document.createElement("i");
      bar.style.width = ((100 * row.pageviews) / max).toFixed(1) + "%";
      var name = document.createElement("span");
      name.textContent = shownValue(body.by, row[body.by]);
      var n = document.createElement("b");
      n.textContent = fmt(row.pageviews);
      li.append(bar, name, n);
      return li;
    });
    $(id).replaceChildren.apply($(id), items);
  }

  function polyline(points, cls) {
    var p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    p.setAttribute("points", points.join(" "));
    p.setAttribute("class", cls);
    return p;
  }

  function drawSeries(body) {
    var svg = $("series");
    var rows = body.rows;
    var max = 1;
    rows.forEach(function (r) { max = Math.max(max, r.pageviews, r.pageviews_week_ago); });
    var w = 640, h = 170, step = rows.length > 1 ? w / (rows.length - 1) : w;
    function at(i, v) { return (i * step).toFixed(1) + "," + (h - (h - 12) * (v / max)).toFixed(1); }
    var label = document.createElementNS("http://www.w3.org/2000/svg", "text");
    label.setAttribute("x", "4");
    label.setAttribute("y", "10");
    label.textContent = "max " + fmt(max);
    svg.replaceChildren(
      polyline(rows.map(function (r, i) { return at(i, r.pageviews_week_ago); }), "week"),
      polyline(rows.map(function (r, i) { return at(i, r.pageviews); }), "today"),
      label
    );
  }

  function choose(url) {
    state.url = url;
    state.dimension = state.value = null;
    retitle(url ? url.replace(/^https?:\/\//, "") : "All pages");
  }

  function chooseValue(dimension, value) {
    state.url = null;
    state.dimension = dimension;
    state.value = value;
    retitle(dimension.charAt(0).toUpperCase() + dimension.slice(1) + " " + shownValue(dimension, value));
  }

  function retitle(what) {
    $("series-title").textContent = what + ": page views per 5 minutes, last 24 h";
    $("series-reset").hidden = !(state.url || state.dimension);
    refresh();
  }

  function refresh() {
    var series = { granularity: "5m", minutes: 1440 };
    if (state.url) series.url = state.url;
    if (state.dimension) { series.dimension = state.dimension; series.value = state.value; }
    return Promise.all([
      api("now", {}).then(drawNow),
      api("top", { by: "channel", date: "today", limit: 1000 }).then(drawToday),
      api("top", { by: "url", minutes: 30, limit: 15 }).then(drawTop),
      api("top", { by: "referrer_category", minutes: 30, limit: 8 }).then(function (b) { drawBars("referrers", b); }),
      api("top", { by: "section", minutes: 1440, limit: 8 }).then(function (b) { drawBars("sections", b, true); }),
      api("top", { by: "author", minutes: 1440, limit: 8 }).then(function (b) { drawBars("authors", b, true); }),
      api("top", { by: "country", minutes: 1440, limit: 8 }).then(function (b) { drawBars("countries", b, true); }),
      api("timeseries", series).then(drawSeries),
    ]).then(
      function () {
        status.refreshes += 1;
        status.lastError = null;
        $("live").className = status.arriving ? "live" : "live stale";
        $("live").textContent = status.arriving ? "live" : "no new views";
        $("live").title = status.arriving ? "Page views are arriving" : "No page views in the last 30 minutes";
        $("updated").textContent = new Date().toLocaleTimeString("en-GB");
      },
      function (err) {
        status.lastError = String(err.message || err);
        $("live").className = "live stale";
        $("live").textContent = "not updating";
        $("updated").textContent = "failed: " + status.lastError;
      }
    );
  }

  $("site").value = state.site;
  $("controls").addEventListener("submit", function (e) {
    e.preventDefault();
    state.site = $("site").value.trim();
    state.seen = null;
    refresh();
  });
  $("series-reset").addEventListener("click", function () { choose(null); });
  refresh();
  setInterval(refresh, REFRESH_MS);
})();
