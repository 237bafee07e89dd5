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

  // Live updates (SSE): stories on this page change without a reload.
  function live() {
    if (!window.EventSource) { return; }
    var page = document.body.dataset.page;
    if (page !== "today" && page !== "story") { return; }
    var src = new EventSource("/api/v1/stream");
    src.onopen = function () { document.body.dataset.live = "open"; };
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
        var banner = document.getElementById("live-banner"); if (banner) { banner.hidden = false; }
      }
      announce(story.title || "");
    }
    if (page === "story" && String(id) === document.body.dataset.story) { refreshStory(); }
  });
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

  document.addEventListener("DOMContentLoaded", function () { live(); if (window.NewsTalkPlayer) { window.NewsTalkPlayer.init(); } });
})();
