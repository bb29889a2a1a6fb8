/*
 * weir tracker: page views, engaged-time heartbeats, video starts and custom events.
 * No build step. Include it and, optionally, configure it first:
 *
 *   <script>window.weirConfig = {endpoint: "https://collect.example.com/events", site: "example.com"};</script>
 *   <script src="weir.js" async></script>
 *
 * Engaged time: the page is visible and the reader interacted (mouse, keys, scroll, touch)
 * within the last 5 s; every 5 s tick that is engaged adds 5 s, sent on a heartbeat every
 * 10 s and when the page is hidden. Sessions are client-side: a new one after 30 minutes
 * without activity, counted in session_index (1 = a new visitor). Events are batched (every
 * 500 ms or 100 events) and flushed with sendBeacon when the page is hidden.
 */
(function (w, d) {
  "use strict";
  if (w.weir && w.weir.started) return;
  var cfg = w.weirConfig || {};
  var endpoint = cfg.endpoint || "/events";
  var site = cfg.site || location.hostname.replace(/^www\./, "");
  var TICK_MS = 5000, HEARTBEAT_MS = 10000, FLUSH_MS = 500, BATCH_MAX = 100, SESSION_IDLE_MS = 30 * 60 * 1000;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  function store(key, value) {
    try {
      if (value === undefined) return JSON.parse(w.localStorage.getItem(key));
      w.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage blocked: this page view still counts */ }
    return value;
  }

  var visitorId = store("weir_vid") || store("weir_vid", uuid());

  function session(now) {
    var s = store("weir_session");
    if (!s || now - s.last > SESSION_IDLE_MS) {
      s = {id: uuid(), index: s ? s.index + 1 : (store("weir_seen") ? 2 : 1), last: now};
      store("weir_seen", true);
    }
    s.last = now;
    store("weir_session", s);
    return s;
  }

  var queue = [];
  function send(useBeacon) {
    if (!queue.length) return;
    var batch = queue.splice(0, queue.length);
    var body = JSON.stringify(batch);
    // text/plain keeps the request "simple": no CORS preflight, and sendBeacon accepts it.
    if (useBeacon && navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], {type: "text/plain"}))) return;
    if (w.fetch) {
      w.fetch(endpoint, {method: "POST", body: body, keepalive: true, headers: {"Content-Type": "text/plain"}})
        .catch(function () { /* the collector is the durable part; nothing to retry here */ });
    }
  }

  function track(action, fields) {
    var now = Date.now(), s = session(now);
    var ev = {
      event_id: uuid(), action: action, ts: now, site: site, url: location.href,
      referrer: d.referrer || "", visitor_id: visitorId, session_id: s.id, session_index: s.index
    };
    for (var k in fields || {}) if (Object.prototype.hasOwnProperty.call(fields, k)) ev[k] = fields[k];
    queue.push(ev);
    if (queue.length >= BATCH_MAX) send(false);
    return ev.event_id;
  }

  var lastInteraction = 0, engagedMs = 0;
  function interacted() { lastInteraction = Date.now(); }
  ["mousemove", "mousedown", "keydown", "scroll", "touchstart"].forEach(function (t) {
    d.addEventListener(t, interacted, {passive: true, capture: true});
  });
  function engaged() { return d.visibilityState === "visible" && Date.now() - lastInteraction <= TICK_MS; }

  function heartbeat() {
    if (engagedMs <= 0) return;
    var seconds = Math.round(engagedMs / 1000);
    engagedMs = 0;
    var fields = {engaged_seconds: seconds};
    if (Object.keys(meta).length) fields.metadata = meta;  // engaged time by section, author, tag
    track("heartbeat", fields);
  }

  setInterval(function () { if (engaged()) engagedMs += TICK_MS; }, TICK_MS);
  setInterval(heartbeat, HEARTBEAT_MS);
  setInterval(function () { send(false); }, FLUSH_MS);
  function hidden() { heartbeat(); send(true); }
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") hidden(); });
  w.addEventListener("pagehide", hidden);

  // What the page says about itself, as publishers already mark it up: JSON-LD (NewsArticle
  // and kin) first, then Open Graph / article:* meta tags, then the document's title.
  function text(v) { return typeof v === "string" && v.trim() ? v.trim().slice(0, 500) : null; }
  function names(v) {
    var out = [];
    [].concat(v || []).forEach(function (x) {
      var n = text(typeof x === "string" ? x : x && x.name);
      if (n && out.indexOf(n) < 0 && out.length < 25) out.push(n);
    });
    return out;
  }
  function article() {
    var found = null;
    [].forEach.call(d.querySelectorAll('script[type="application/ld+json"]'), function (s) {
      var items;
      try { items = [].concat(JSON.parse(s.textContent)); } catch (e) { return; }  // a broken block is the page's
      items.forEach(function (it) {
        [].concat(it && it["@graph"] ? it["@graph"] : it).forEach(function (o) {
          var t = [].concat(o && o["@type"] || []).join(" ");
          if (!found && /Article|BlogPosting|Report/.test(t)) found = o;
        });
      });
    });
    return found || {};
  }
  function metaAll(prop) {
    return [].map.call(d.querySelectorAll('meta[property="' + prop + '"]'), function (m) { return m.getAttribute("content"); });
  }
  var a = article();
  var meta = {};
  var keywords = typeof a.keywords === "string" ? a.keywords.split(",") : a.keywords;
  var fields = {
    title: text(a.headline) || text(metaAll("og:title")[0]) || text(d.title),
    section: text([].concat(a.articleSection || [])[0]) || text(metaAll("article:section")[0]),
    published: text(a.datePublished) || text(metaAll("article:published_time")[0])
  };
  for (var k in fields) if (fields[k]) meta[k] = fields[k];
  var authors = names(a.author).length ? names(a.author) : names(metaAll("article:author"));
  var tags = names(keywords).length ? names(keywords) : names(metaAll("article:tag"));
  if (authors.length) meta.authors = authors;
  if (tags.length) meta.tags = tags;
  var canonical = d.querySelector('link[rel="canonical"]');
  if (canonical && canonical.href) meta.canonical = canonical.href;

  w.weir = {
    started: true,
    track: function (action, extra) { return track(action, extra ? {extra: extra} : {}); },
    videoStart: function (videoId) { return track("videostart", {extra: {video_id: videoId}}); },
    flush: function () { send(false); }
  };
  track("pageview", Object.keys(meta).length ? {metadata: meta} : {});
})(window, document);
