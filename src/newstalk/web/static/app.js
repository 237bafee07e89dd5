// NewsTalk web: progressive enhancement only; every page works and reads without it.
(function () {
  "use strict";
  var meta = function (name) { var m = document.querySelector('meta[name="' + name + '"]'); return m ? m.content : ""; };
  var csrf = meta("csrf-token");
  var signedIn = meta("signed-in") === "yes";

  // Refresh the session in the background: the access cookie lives 15 minutes.
  function refresh() {
    return fetch("/session/refresh", { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" })
      .then(function (r) { return r.status === 204; }).catch(function () { return false; });
  }
  if (signedIn) { setInterval(refresh, 10 * 60 * 1000); }
  // Signed out (logged out, or the session ended): no listener's queue or audio stays in this browser.
  if (!signedIn) {
    try { ["nt_queue", "nt_now", "nt_speed"].forEach(function (k) { localStorage.removeItem(k); }); } catch (e) { /* private mode */ }
  }

  // The API with the session cookie; a write sends the CSRF token; a 401 refreshes once.
  function api(method, path, body, retried) {
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") { opts.headers["X-CSRF-Token"] = csrf; }
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      if (r.status === 401 && signedIn && !retried) {
        return refresh().then(function (ok) { if (ok) { return api(method, path, body, true); } throw r; });
      }
      if (!r.ok) { throw r; }
      return r.status === 204 ? null : r.json();
    });
  }
  // Client telemetry (docs/web.md): best effort, failures ignored, nothing personal.
  function telemetry(events) {
    var headers = { "Content-Type": "application/json" };
    if (signedIn) { headers["X-CSRF-Token"] = csrf; }
    fetch("/api/v1/telemetry", { method: "POST", credentials: "same-origin", keepalive: true, headers: headers,
      body: JSON.stringify({ platform: "web", app_version: meta("app-version"), events: events }) }).catch(function () {});
  }
  window.addEventListener("load", function () {
    try { if (sessionStorage.getItem("nt_started")) { return; } sessionStorage.setItem("nt_started", "1"); } catch (e) { return; }
    setTimeout(function () { telemetry([{ type: "start", duration_ms: Math.round(performance.now()) }]); }, 0);
  });
  window.addEventListener("error", function () { telemetry([{ type: "crash" }]); });
  window.NewsTalk = { api: api, csrf: csrf, signedIn: signedIn, telemetry: telemetry };

  function announce(text) { var s = document.getElementById("live-status"); if (s) { s.textContent = text; } }

  // Live updates (SSE): stories on this page change without a reload. Today follows the
  // listener's stream (their preferences); a story page follows its own story whatever they are.
  var source = null;
  function live() {
    if (source) { source.close(); source = null; }
    delete document.body.dataset.live;
    if (!window.EventSource) { return; }
    var page = document.body.dataset.page, story = document.body.dataset.story;
    if (page !== "today" && page !== "story") { return; }
    var src = new EventSource(page === "story" ? "/api/v1/stream?story=" + encodeURIComponent(story) : "/api/v1/stream");
    source = src;
    src.onopen = function () { if (source === src) { document.body.dataset.live = "open"; } };
    var handle = function (ev) {
      var data; try { data = JSON.parse(ev.data); } catch (e) { return; }
      document.dispatchEvent(new CustomEvent("newstalk:live", { detail: { type: ev.type, data: data } }));
    };
    ["story.updated", "story.checked", "audio.ready"].forEach(function (t) { src.addEventListener(t, handle); });
  }
  document.addEventListener("newstalk:live", function (e) {
    var page = document.body.dataset.page, ev = e.detail, story = ev.data.story || {};
    var id = story.id || ev.data.story_id;
    if (page === "today" && ev.type === "story.updated") {
      var card = document.querySelector('[data-story="' + id + '"]');
      if (card) {
        var link = card.querySelector("h3 a"); if (link && story.title) { link.textContent = story.title; }
        card.classList.add("fresh");
      } else {
        addCard(id);
      }
      announce(story.title || "");
    }
    if (page === "story" && String(id) === document.body.dataset.story) { refreshStory(); }
  });
  // A story Today does not show yet: its card (the server renders it) goes on top of the latest.
  var adding = {};
  function addCard(id) {
    if (!id || adding[id]) { return; }
    adding[id] = true;
    var banner = function () { var b = document.getElementById("live-banner"); if (b) { b.hidden = false; } };
    fetch("/stories/" + encodeURIComponent(id) + "?fragment=card", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var list = document.getElementById("latest");
        if (html === null || !list || document.body.dataset.page !== "today") { if (html === null) { banner(); } return; }
        if (document.querySelector('[data-story="' + id + '"]')) { return; }
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var card = holder.querySelector(".card");
        if (!card) { banner(); return; }
        card.classList.add("fresh");
        list.querySelectorAll(":scope > p.muted").forEach(function (n) { n.remove(); });
        list.insertBefore(card, list.firstChild);
      }, banner)
      .then(function () { delete adding[id]; });
  }

  // Re-render the story's coverage and fact-check from the server, keeping open evidence open.
  function refreshStory() {
    var region = document.querySelector("[data-live-region]");
    if (!region) { return; }
    fetch(location.pathname + "?fragment=live", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var open = Array.prototype.map.call(region.querySelectorAll("details[open]"), function (d) { return d.dataset.claimDetails; });
        region.innerHTML = html;
        open.forEach(function (cid) { var d = region.querySelector('details[data-claim-details="' + cid + '"]'); if (d) { d.open = true; } });
        announce(region.dataset.updated || "");
      });
  }

  // Copy buttons (podcast link, new API key, webhook secret).
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!btn) { return; }
    var input = document.getElementById(btn.dataset.copy);
    if (!input) { return; }
    var done = function () { btn.textContent = btn.dataset.copied || btn.textContent; announce(btn.dataset.copied || ""); };
    if (navigator.clipboard && window.isSecureContext) { navigator.clipboard.writeText(input.value).then(done, function () { input.select(); }); }
    else { input.select(); try { document.execCommand("copy"); done(); } catch (err) { /* selected for manual copy */ } }
  });

  // In-app navigation while audio plays, so the player keeps playing (docs/web.md, "Moving
  // around while listening"): a click on a link to a listener page, or a GET form (search),
  // fetches that page and swaps <main>, the header and the title in place, with pushState.
  // POST forms, downloads, other sites, new tabs, /desk, /docs, /api and the language switch
  // load normally.
  var APP_PATH = /^\/(?:stories\/\d+|search|listen|ask(?:\/\d+)?|settings)?$/;
  var navSeq = 0;
  function inApp(url) { return url.origin === location.origin && APP_PATH.test(url.pathname); }
  function keepPlaying() { return !!(window.NewsTalkPlayer && window.NewsTalkPlayer.playing()); }
  if ("scrollRestoration" in history) { history.scrollRestoration = "manual"; }
  history.replaceState({ nt: true, y: window.scrollY }, "");

  function swap(doc) {
    var main = doc.getElementById("main"), header = doc.querySelector("header.top");
    var signed = doc.querySelector('meta[name="signed-in"]'), token = doc.querySelector('meta[name="csrf-token"]');
    // Another account, language or session: a full load sets everything up again.
    if (!main || !header || !signed || signed.content !== meta("signed-in") || !token || token.content !== csrf ||
        doc.documentElement.lang !== document.documentElement.lang) { return false; }
    document.title = doc.title;
    document.querySelector("header.top").replaceWith(document.adoptNode(header));
    document.getElementById("main").replaceWith(document.adoptNode(main));
    Object.keys(document.body.dataset).forEach(function (k) { delete document.body.dataset[k]; });
    Object.keys(doc.body.dataset).forEach(function (k) { document.body.dataset[k] = doc.body.dataset[k]; });
    return true;
  }

  function navigate(href, push) {
    var seq = ++navSeq, wanted = new URL(href, location.href);
    document.body.setAttribute("aria-busy", "true");
    return fetch(wanted.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) {
        if ((r.headers.get("content-type") || "").indexOf("text/html") < 0) { throw new Error("not a page"); }
        return r.text().then(function (html) { return { url: new URL(r.url || wanted.href), html: html }; });
      })
      .then(function (got) {
        if (seq !== navSeq) { return; }
        if (!inApp(got.url)) { location.assign(got.url.href); return; }
        var doc = new DOMParser().parseFromString(got.html, "text/html");
        var at = got.url.pathname + got.url.search + (got.url.pathname === wanted.pathname ? wanted.hash : "");
        if (push) {
          history.replaceState({ nt: true, y: window.scrollY }, "");
          history.pushState({ nt: true, y: 0 }, "", at);
        } else if (at !== location.pathname + location.search + location.hash) {
          history.replaceState(history.state, "", at);
        }
        if (!swap(doc)) { location.reload(); return; }
        var target = location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
        var main = document.getElementById("main");
        if (main) { main.focus({ preventScroll: true }); }
        if (target) { target.scrollIntoView(); } else { window.scrollTo(0, push ? 0 : (history.state && history.state.y) || 0); }
        announce(document.title);
        pageInit();
      })
      .catch(function () { if (seq === navSeq) { location.assign(wanted.href); } })
      .then(function () { if (seq === navSeq) { document.body.removeAttribute("aria-busy"); } });
  }

  document.addEventListener("click", function (e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) { return; }
    var a = e.target.closest ? e.target.closest("a[href]") : null;
    if (!a || a.hasAttribute("download") || (a.target && a.target !== "_self")) { return; }
    var url = new URL(a.href, location.href);
    if (!inApp(url) || !keepPlaying()) { return; }
    if (url.hash && url.pathname === location.pathname && url.search === location.search) { return; }
    e.preventDefault();
    navigate(url.href, true);
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || (form.getAttribute("method") || "get").toLowerCase() !== "get" || (form.target && form.target !== "_self")) { return; }
    var url = new URL(form.getAttribute("action") || location.href, location.href);
    if (!inApp(url) || !keepPlaying()) { return; }
    e.preventDefault();
    url.search = new URLSearchParams(new FormData(form, e.submitter || undefined)).toString();
    navigate(url.href, true);
  });
  // Back and forward between pages this script put in the history (a hash change has no state).
  window.addEventListener("popstate", function (e) {
    if (e.state && e.state.nt) { navigate(location.href, false); }
  });

  // What each page needs from the script, on load and after an in-app navigation.
  function pageInit() {
    live();
    if (window.NewsTalkPlayer) { window.NewsTalkPlayer.page(); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (window.NewsTalkPlayer) { window.NewsTalkPlayer.init(); }
    live();
  });
})();
