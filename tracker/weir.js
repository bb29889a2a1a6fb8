/*
 * weir tracker: page views, engaged-time heartbeats, video starts and custom events.
 * No build step. Load it from the collector, which serves it; that is all a page needs:
 *
 *   <script defer src="https://collect.example.com/weir.js" data-site="example.com"></script>
 *
 * Events go to the origin the script was loaded from (here https://collect.example.com/events).
 * `window.weirConfig` set before it overrides: {endpoint, site, cookieless, respectDnt, spa,
 * manual}; the script tag's data-site, data-endpoint and data-cookieless="true" say the same.
 *
 * Engaged time: the page is visible and the reader interacted (mouse, keys, scroll, touch)
 * within the last 5 s; every 5 s tick that is engaged adds 5 s, sent on a heartbeat every
 * 10 s and when the page is hidden. Sessions are client-side: a new one after 30 minutes
 * without activity, counted in session_index (1 = a new visitor).
 *
 * Delivery: events go to a queue in localStorage first (memory when storage is blocked),
 * are sent in batches (every 500 ms, at most 100), and leave the queue only when the
 * collector answered 2xx; while it fails, retries back off (1 s doubling to 60 s, with
 * jitter). Each tab keeps its own queue (no tab overwrites or sends another's events); the
 * queue of a tab gone for 30 s, closed offline say, is adopted and sent by the next page of
 * the site. A queue keeps the newest 1,000 events; the next event sent says how many were
 * dropped (extra.weir_dropped). At page hide a send that cannot go by fetch goes by
 * sendBeacon and stays queued until a confirmed send: a copy sent twice has one event_id,
 * which the pipeline's dedupe removes.
 *
 * Scroll depth: each heartbeat carries the quarters of the page newly reached
 * (scroll_quarters), so they add up to a page view's deepest quarter.
 *
 * Single-page sites: a page view on history.pushState/replaceState/popstate to a new URL
 * (the previous page's engaged time sent first); `spa: false` turns that off, `manual: true`
 * turns off every automatic page view (call weir.pageview()). Privacy: weir.optOut() and
 * weir.optIn() are kept in storage; with `respectDnt: true`, Do Not Track and Global Privacy
 * Control mean nothing is sent. `cookieless: true` stores nothing but an opt-out: no
 * visitor id is sent (the collector, run with --cookieless, derives a per-day one) and
 * the queue lives in memory.
 */
(function (w, d) {
  "use strict";
  if (w.weir && w.weir.started) return;
  var cfg = w.weirConfig || {};
  // The script tag, read while it runs: its data-* settings, and its origin (the collector's).
  var tag = d.currentScript || {}, data = tag.dataset || {};
  var origin = "";
  try { origin = new URL(tag.src, location.href).origin; } catch (e) { /* inline: this page's server */ }
  if (cfg.cookieless === undefined && data.cookieless === "true") cfg.cookieless = true;
  var endpoint = cfg.endpoint || data.endpoint || origin + "/events";
  var site = cfg.site || data.site || location.hostname.replace(/^www\./, "");
  var TICK_MS = 5000, HEARTBEAT_MS = 10000, FLUSH_MS = 500, BATCH_MAX = 100, SESSION_IDLE_MS = 30 * 60 * 1000;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }

  // Cookieless mode: nothing in the browser's storage but the reader's opt-out; the collector
  // derives a per-day visitor id (weir collect --cookieless), sessions last one page load.
  var cookieless = cfg.cookieless === true, kept = {};
  function store(key, value) {
    if (cookieless && key !== "weir_optout") return value === undefined ? kept[key] : (kept[key] = value);
    try {
      if (value === undefined) return JSON.parse(w.localStorage.getItem(key));
      w.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* storage blocked: this page view still counts */ }
    return value;
  }

  var visitorId = cookieless ? undefined : store("weir_vid") || store("weir_vid", uuid());

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

  // The queue: this tab's events under its own key, so tabs never overwrite each other's;
  // a tab gone for ORPHAN_MS (closed offline, say) leaves a queue the next tab adopts.
  var tab = uuid(), QUEUE = "weir_q:" + tab, ALIVE = "weir_alive:" + tab, MAX_QUEUED = 1000, ORPHAN_MS = 30000;
  var memory = [], durable = store("weir_probe", 1) === 1 && store("weir_probe") === 1;
  function queued() { return durable ? store(QUEUE) || [] : memory; }
  function keep(q) { if (durable) store(QUEUE, q); else memory = q; }
  function enqueue(evs) {
    var q = queued().concat(evs);
    if (q.length > MAX_QUEUED) store("weir_dropped", (store("weir_dropped") || 0) + q.splice(0, q.length - MAX_QUEUED).length);
    keep(q);
  }
  function adopt() {
    if (!durable || cookieless) return;
    var now = Date.now();
    store(ALIVE, now);
    try {
      for (var i = w.localStorage.length - 1; i >= 0; i--) {
        var key = w.localStorage.key(i) || "", other = key.slice(7);
        if (key.indexOf("weir_q:") !== 0 || other === tab || now - (store("weir_alive:" + other) || 0) < ORPHAN_MS) continue;
        var theirs = store(key) || [];
        w.localStorage.removeItem(key);
        w.localStorage.removeItem("weir_alive:" + other);
        enqueue(theirs);  // sent again if that tab's last send did land: one event_id, deduped downstream
      }
    } catch (e) { /* storage blocked meanwhile: nothing to adopt */ }
  }

  var backoffMs = 0, retryAt = 0, inFlight = null;
  function post(batch) {
    var dropped = store("weir_dropped");
    if (dropped) batch[0].extra = Object.assign({}, batch[0].extra, {weir_dropped: dropped});
    inFlight = batch;
    // text/plain keeps the request "simple": no CORS preflight, and sendBeacon accepts it.
    w.fetch(endpoint, {method: "POST", body: JSON.stringify(batch), keepalive: true, headers: {"Content-Type": "text/plain"}})
      .then(function (r) {
        // 2xx: delivered. 4xx but 408/429: never deliverable as it is (too large, not this
        // collector's site), so it leaves the queue too. Anything else: try again later.
        var gone = r.ok || (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429);
        if (dropped && r.ok) store("weir_dropped", 0);
        return gone;
      }, function () { return false; })
      .then(function (gone) {
        inFlight = null;
        if (gone) {
          var ids = {};
          batch.forEach(function (e) { ids[e.event_id] = 1; });
          keep(queued().filter(function (e) { return !ids[e.event_id]; }));
          backoffMs = retryAt = 0;
          if (queued().length) send(false);
        } else {
          backoffMs = Math.min(60000, backoffMs ? backoffMs * 2 : 1000);
          retryAt = Date.now() + backoffMs * (0.5 + Math.random() / 2);
        }
      });
  }
  function send(hiding) {
    var q = queued();
    if (!q.length || optedOut()) return;
    if (!inFlight && Date.now() >= retryAt && w.fetch) return post(q.slice(0, BATCH_MAX));
    // Hiding while a send is out or backing off: what it does not carry goes by beacon; it
    // stays queued until a send is confirmed (a second copy is deduped downstream).
    if (hiding && navigator.sendBeacon) {
      var out = {};
      (inFlight || []).forEach(function (e) { out[e.event_id] = 1; });
      var rest = q.filter(function (e) { return !out[e.event_id]; }).slice(0, BATCH_MAX);
      if (rest.length) navigator.sendBeacon(endpoint, new Blob([JSON.stringify(rest)], {type: "text/plain"}));
    }
  }

  function optedOut() {
    var gpc = navigator.globalPrivacyControl === true, dnt = navigator.doNotTrack === "1" || w.doNotTrack === "1";
    return store("weir_optout") === true || (cfg.respectDnt === true && (gpc || dnt));
  }

  function track(action, fields) {
    if (optedOut()) return null;
    var now = Date.now(), s = session(now);
    var ev = {
      event_id: uuid(), action: action, ts: now, site: site, url: pageUrl || location.href,
      referrer: pageReferrer, visitor_id: visitorId, session_id: s.id, session_index: cookieless ? undefined : s.index
    };
    for (var k in fields || {}) if (Object.prototype.hasOwnProperty.call(fields, k)) ev[k] = fields[k];
    enqueue([ev]);
    if (queued().length >= BATCH_MAX) send(false);
    return ev.event_id;
  }

  var lastInteraction = 0, engagedMs = 0;
  function interacted() { lastInteraction = Date.now(); }
  ["mousemove", "mousedown", "keydown", "scroll", "touchstart"].forEach(function (t) {
    d.addEventListener(t, interacted, {passive: true, capture: true});
  });
  function engaged() { return d.visibilityState === "visible" && Date.now() - lastInteraction <= TICK_MS; }

  // Scroll depth: the deepest quarter of the page reached (1-4), each quarter sent once per
  // page view on the next heartbeat, so their sum over a page view is its deepest quarter.
  var reachedQ = 0, sentQ = 0;
  function scrolled() {
    var el = d.documentElement, h = Math.max(el.scrollHeight, 1);
    reachedQ = Math.max(reachedQ, Math.min(4, Math.floor((4 * (w.scrollY + w.innerHeight)) / h + 0.001)));
  }
  w.addEventListener("scroll", scrolled, {passive: true});

  function heartbeat() {
    scrolled();
    var quarters = reachedQ - sentQ;
    if (engagedMs <= 0 && quarters <= 0) return;
    var seconds = Math.round(engagedMs / 1000);
    engagedMs = 0;
    sentQ = reachedQ;
    var fields = {engaged_seconds: seconds};
    if (quarters > 0) fields.scroll_quarters = quarters;
    if (Object.keys(meta).length) fields.metadata = meta;  // engaged time by section, author, tag
    track("heartbeat", fields);
  }

  setInterval(function () { if (engaged()) engagedMs += TICK_MS; }, TICK_MS);
  setInterval(heartbeat, HEARTBEAT_MS);
  setInterval(function () { send(false); }, FLUSH_MS);
  setInterval(adopt, ORPHAN_MS / 3);
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
  function pageMeta() {
    var a = article(), meta = {};
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
    return meta;
  }

  var meta = {}, pageUrl = null, pageReferrer = d.referrer || "";
  function pageview() {
    // A new page: the last one's engaged time first, then this one's view with its metadata.
    if (pageUrl !== null) { heartbeat(); pageReferrer = pageUrl; }
    reachedQ = sentQ = 0;  // a new page view starts at the top
    pageUrl = location.href;
    meta = pageMeta();
    var fields = {url: pageUrl, referrer: pageReferrer};
    if (Object.keys(meta).length) fields.metadata = meta;
    return track("pageview", fields);
  }
  function routed() { if (location.href !== pageUrl) pageview(); }  // once per distinct URL
  if (cfg.spa !== false && !cfg.manual && w.history && history.pushState) {
    ["pushState", "replaceState"].forEach(function (name) {
      var original = history[name];
      history[name] = function () {
        var out = original.apply(this, arguments);
        routed();
        return out;
      };
    });
    w.addEventListener("popstate", routed);
  }

  w.weir = {
    started: true,
    pageview: pageview,
    track: function (action, extra) { return track(action, extra ? {extra: extra} : {}); },
    videoStart: function (videoId) { return track("videostart", {extra: {video_id: videoId}}); },
    flush: function () { send(false); },
    queued: function () { return queued().length; },  // events not yet confirmed by the collector
    optOut: function () { store("weir_optout", true); keep([]); },
    optIn: function () { store("weir_optout", false); }
  };
  adopt();
  if (!cfg.manual) pageview();
})(window, document);
