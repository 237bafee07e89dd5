// The persistent player: story audio, ±15 s, speed, chapters, a transcript that follows the
// audio, a queue, Media Session metadata, and the resume position saved to the server
// (as "listened" feedback with the percent heard; see docs/web.md).
// The queue and what plays are kept in the browser for the signed-in account only: each record
// names its owner (the user id), another account's records are dropped, and a signed-out page
// drops them all (app.js). The speed is the listener's playback_speed preference.
(function () {
  "use strict";
  var QUEUE_KEY = "nt_queue", NOW_KEY = "nt_now", LEGACY_KEYS = ["nt_speed"];
  var el = {}, now = null, saveTimer = null, lastSaved = -1, owner = "", speed = 1;
  var track = null, chaptersDoc = null;

  function $(id) { return document.getElementById(id); }
  function store(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  function load(key, fallback) { try { var v = JSON.parse(localStorage.getItem(key)); return v === null ? fallback : v; } catch (e) { return fallback; } }
  function forget() {
    [QUEUE_KEY, NOW_KEY].concat(LEGACY_KEYS).forEach(function (k) { try { localStorage.removeItem(k); } catch (e) { /* private mode */ } });
  }
  // This account's record under key, or null (none, or another account's, which is dropped).
  function mine(key) {
    var v = load(key, null);
    if (v === null) { return null; }
    if (!v || typeof v !== "object" || v.owner !== owner) { try { localStorage.removeItem(key); } catch (e) { /* private mode */ } return null; }
    return v;
  }
  function fmt(s) { s = Math.max(0, Math.floor(s || 0)); return Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2); }
  function status(text) { document.querySelectorAll("[data-audio-status]").forEach(function (n) { n.textContent = text; }); }
  function api() { return window.NewsTalk.api.apply(null, arguments); }

  function show() { el.player.hidden = false; document.body.classList.add("has-player"); }

  function setSpeed(value) {
    var v = Math.min(2, Math.max(0.8, parseFloat(value) || 1));
    el.audio.playbackRate = v; el.audio.defaultPlaybackRate = v;
    var opt = Array.prototype.find.call(el.speed.options, function (o) { return Math.abs(parseFloat(o.value) - v) < 0.01; });
    if (opt) { el.speed.value = opt.value; }
    speed = v;
  }

  function mediaSession() {
    if (!("mediaSession" in navigator) || !now) { return; }
    navigator.mediaSession.metadata = new MediaMetadata({
      title: now.title, artist: "NewsTalk", album: now.character || "",
      artwork: [{ src: "/podcasts/artwork.png", sizes: "1400x1400", type: "image/png" }]
    });
    var a = el.audio;
    var handlers = {
      play: function () { a.play(); }, pause: function () { a.pause(); },
      seekbackward: function () { a.currentTime = Math.max(0, a.currentTime - 15); },
      seekforward: function () { a.currentTime = Math.min(a.duration || 0, a.currentTime + 15); },
      nexttrack: next
    };
    Object.keys(handlers).forEach(function (k) { try { navigator.mediaSession.setActionHandler(k, handlers[k]); } catch (e) { /* unsupported */ } });
  }

  // Chapters and transcript render into the Listen page's boxes, again after each in-app navigation.
  function renderChapters() {
    var box = $("chapters-box"), list = $("chapters"), doc = chaptersDoc || {};
    if (!box || !list) { return; }
    list.innerHTML = "";
    (doc.chapters || []).forEach(function (c) {
      var li = document.createElement("li"), b = document.createElement("button");
      b.type = "button"; b.className = "link"; b.textContent = fmt(c.startTime) + " " + c.title;
      b.addEventListener("click", function () { el.audio.currentTime = c.startTime; el.audio.play(); });
      li.appendChild(b); list.appendChild(li);
    });
    box.hidden = !(doc.chapters || []).length;
  }

  function renderTranscript() {
    var box = $("transcript-box"), holder = $("transcript");
    if (!box || !holder) { return; }
    holder.innerHTML = "";
    if (!track || !track.cues) { box.hidden = true; return; }
    Array.prototype.forEach.call(track.cues, function (cue, i) {
      var p = document.createElement("p");
      p.className = "cue"; p.dataset.index = i; p.textContent = cue.text; p.tabIndex = 0;
      p.addEventListener("click", function () { el.audio.currentTime = cue.startTime; });
      p.addEventListener("keydown", function (e) { if (e.key === "Enter") { el.audio.currentTime = cue.startTime; } });
      holder.appendChild(p);
    });
    box.hidden = !track.cues.length;
  }
  function followCue() {
    var holder = $("transcript");
    if (!holder || !track) { return; }
    holder.querySelectorAll(".cue.active").forEach(function (n) { n.classList.remove("active"); });
    Array.prototype.forEach.call(track.activeCues || [], function (cue) {
      var idx = Array.prototype.indexOf.call(track.cues, cue), n = holder.querySelector('[data-index="' + idx + '"]');
      if (n) { n.classList.add("active"); if (n.scrollIntoView) { n.scrollIntoView({ block: "nearest" }); } }
    });
  }

  function attach(audio, autoplay, resumeAt) {
    now = { id: audio.story_id, audio: audio.id, title: audio.title, url: audio.url, transcript: audio.transcript_url,
      chapters: audio.chapters_url, character: (audio.characters || [])[0] || "", time: resumeAt || 0, owner: owner };
    store(NOW_KEY, now);
    el.title.textContent = now.title;
    Array.prototype.forEach.call(el.audio.querySelectorAll("track"), function (t) { t.remove(); });
    track = null; chaptersDoc = null; renderTranscript(); renderChapters();
    el.audio.src = now.url;
    if (now.transcript) {
      var node = document.createElement("track");
      node.kind = "metadata"; node.src = now.transcript; node.default = true;
      el.audio.appendChild(node);
      node.addEventListener("load", function () { track = node.track; renderTranscript(); });
      node.track.addEventListener("cuechange", followCue);
      node.track.mode = "hidden";
    }
    if (now.chapters) {
      var wanted = now.chapters;
      fetch(wanted, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : {}; }).then(function (doc) {
        if (now && now.chapters === wanted) { chaptersDoc = doc; renderChapters(); }
      }, function () {});
    }
    el.audio.addEventListener("loadedmetadata", function once() {
      el.audio.removeEventListener("loadedmetadata", once);
      if (now.time > 0 && now.time < (el.audio.duration || 0) - 2) { el.audio.currentTime = now.time; }
      setSpeed(speed);
    });
    show(); mediaSession();
    if (autoplay) { el.audio.play().catch(function () { /* needs a gesture; the button is there */ }); }
  }

  // Where this listener stopped last time: their latest "listened" feedback for the story.
  function resumePoint(audioId, duration) {
    // Where this listener stopped in this file, on any device (the mobile app saves there too).
    if (!audioId) { return Promise.resolve(0); }
    return api("GET", "/api/v1/me/positions/" + encodeURIComponent(audioId)).then(function (p) {
      var at = p.position_s || 0;
      return (!duration || at >= duration - 2) ? 0 : at;
    }, function () { return 0; });
  }

  function send(method, path, body, final) {
    fetch(path, { method: method, credentials: "same-origin", keepalive: !!final,
      headers: { "Content-Type": "application/json", "X-CSRF-Token": window.NewsTalk.csrf }, body: JSON.stringify(body) }).catch(function () {});
  }

  function saveProgress(final) {
    if (!now || !now.audio || !el.audio.duration) { return; }
    var at = el.audio.ended ? 0 : Math.floor(el.audio.currentTime);
    now.time = el.audio.currentTime; store(NOW_KEY, now);
    if (at === lastSaved) { return; }
    lastSaved = at;
    send("PUT", "/api/v1/me/positions/" + encodeURIComponent(now.audio), { position_s: at }, final);
    // A finished listen is feedback the personal feed learns from (once, not every save).
    if (el.audio.ended && now.id) { send("POST", "/api/v1/me/feedback", { story_id: Number(now.id), event: "listened", percent: 100 }, final); }
  }

  function poll(statusUrl, title, storyId, tries) {
    return api("GET", statusUrl).then(function (a) { return settle(a, title, storyId, tries); });
  }

  function settle(a, title, storyId, tries) {
    a.title = title; a.story_id = storyId;
    if (a.status === "ready") {
      status("");
      return resumePoint(a.id, a.duration_s).then(function (at) { lastSaved = -1; attach(a, true, at); });
    }
    if (a.status === "pending" && tries < 90) {
      status(document.body.dataset.tPending || "…");
      return new Promise(function (res) { setTimeout(res, 2000); }).then(function () { return poll(a.status_url, title, storyId, tries + 1); });
    }
    status(document.body.dataset.tFailed || a.error || "failed");
    return null;
  }

  function playStory(storyId, title, character) {
    var body = { story_id: Number(storyId) };
    if (character) { body.character = character; }
    status(document.body.dataset.tPending || "…");
    return api("POST", "/api/v1/voice", body).then(function (a) { return settle(a, title, storyId, 0); }, function () {
      status(document.body.dataset.tFailed || "failed");
    });
  }

  // A daily briefing (or any ready audio) by its audio id: no story, so no feedback event.
  function playAudio(audioId, title) {
    status(document.body.dataset.tPending || "…");
    return api("GET", "/api/v1/voice/" + encodeURIComponent(audioId)).then(function (a) { return settle(a, title, null, 0); }, function () {
      status(document.body.dataset.tFailed || "failed");
    });
  }
  // Queue items are stories ({id, title}) or audio files ({audio, title}, daily briefings).
  function keyOf(item) { return item.audio ? "a:" + item.audio : "s:" + item.id; }
  function playItem(item) { return item.audio ? playAudio(item.audio, item.title) : playStory(item.id, item.title); }

  function queue() { var q = mine(QUEUE_KEY); return q && Array.isArray(q.items) ? q.items : []; }
  function storeQueue(items) { store(QUEUE_KEY, { owner: owner, items: items }); }
  function renderQueue() {
    var list = $("queue");
    if (!list) { return; }
    var items = queue();
    list.innerHTML = "";
    if (!items.length) { var e = document.createElement("li"); e.className = "muted"; e.textContent = list.dataset.empty; list.appendChild(e); return; }
    items.forEach(function (item, i) {
      var li = document.createElement("li"), play = document.createElement("button"), rm = document.createElement("button");
      play.type = "button"; play.className = "link"; play.textContent = item.title;
      play.addEventListener("click", function () { playItem(item); });
      rm.type = "button"; rm.className = "link"; rm.textContent = list.dataset.remove;
      rm.setAttribute("aria-label", list.dataset.remove + ": " + item.title);
      rm.addEventListener("click", function () { var q = queue(); q.splice(i, 1); storeQueue(q); renderQueue(); });
      li.appendChild(play); li.appendChild(document.createTextNode(" ")); li.appendChild(rm); list.appendChild(li);
    });
  }
  function enqueue(id, title, audioId) {
    var q = queue(), item = audioId ? { audio: audioId, title: title } : { id: id, title: title };
    if (!q.some(function (x) { return keyOf(x) === keyOf(item); })) { q.push(item); storeQueue(q); }
    renderQueue(); status(document.body.dataset.tQueued || "");
  }
  function next() {
    var q = queue();
    var at = now ? q.findIndex(function (x) { return x.audio ? x.audio === now.audio : String(x.id) === String(now.id); }) : -1;
    var item = q[at + 1] || (at < 0 ? q[0] : null);
    if (item) { playItem(item); }
  }

  function init() {
    el.player = $("player"); el.audio = $("audio");
    if (!el.player || !el.audio || el.player.dataset.signedIn !== "yes" || !el.player.dataset.user) { return; }
    owner = el.player.dataset.user;
    LEGACY_KEYS.forEach(function (k) { try { localStorage.removeItem(k); } catch (e) { /* private mode */ } });
    el.title = $("player-title"); el.toggle = $("player-toggle"); el.speed = $("player-speed"); el.time = $("player-time");
    var a = el.audio, t = el.player.dataset;
    el.toggle.addEventListener("click", function () { if (a.paused) { a.play(); } else { a.pause(); } });
    $("player-back").addEventListener("click", function () { a.currentTime = Math.max(0, a.currentTime - 15); });
    $("player-fwd").addEventListener("click", function () { a.currentTime = Math.min(a.duration || 0, a.currentTime + 15); });
    el.speed.addEventListener("change", function () {
      setSpeed(el.speed.value);
      api("PATCH", "/api/v1/me/preferences", { playback_speed: parseFloat(el.speed.value) }).catch(function () {});
    });
    a.addEventListener("play", function () { el.toggle.textContent = t.tPause; if ("mediaSession" in navigator) { navigator.mediaSession.playbackState = "playing"; } });
    a.addEventListener("pause", function () { el.toggle.textContent = t.tPlay; saveProgress(false); if ("mediaSession" in navigator) { navigator.mediaSession.playbackState = "paused"; } });
    a.addEventListener("ended", function () { saveProgress(false); next(); });
    a.addEventListener("error", function () { if (a.src) { window.NewsTalk.telemetry([{ type: "playback_error" }]); } });
    a.addEventListener("timeupdate", function () {
      el.time.textContent = fmt(a.currentTime) + " / " + fmt(a.duration);
      if (!saveTimer) { saveTimer = setTimeout(function () { saveTimer = null; if (!a.paused) { saveProgress(false); } }, 30000); }
    });
    window.addEventListener("pagehide", function () { if (!a.paused) { saveProgress(true); } });
    document.addEventListener("click", function (e) {
      var b = e.target.closest ? e.target.closest("[data-play-story],[data-voice-story],[data-queue-story],[data-play-audio],[data-queue-audio]") : null;
      if (!b) { return; }
      if (b.dataset.playAudio) { playAudio(b.dataset.playAudio, b.dataset.title); }
      else if (b.dataset.queueAudio) { enqueue(null, b.dataset.title, b.dataset.queueAudio); }
      else if (b.dataset.playStory) { playStory(b.dataset.playStory, b.dataset.title); }
      else if (b.dataset.voiceStory) { var pick = $("voice-pick"); playStory(b.dataset.voiceStory, b.dataset.title, pick ? pick.value : null); }
      else { enqueue(b.dataset.queueStory, b.dataset.title); }
    });
    // The listener's own speed (their playback_speed preference, set here or in Settings).
    setSpeed(1);
    api("GET", "/api/v1/me/preferences").then(function (p) { if (p && p.playback_speed) { setSpeed(p.playback_speed); } }, function () {});
    renderQueue();
    var last = mine(NOW_KEY);
    if (last && last.url) { attach({ id: last.audio, story_id: last.id, title: last.title, url: last.url, transcript_url: last.transcript, chapters_url: last.chapters, characters: [last.character] }, false, last.time); }
  }

  // After app.js swapped the page in place: fill the new page's queue, chapters and transcript.
  function page() { if (!owner) { return; } renderQueue(); renderChapters(); renderTranscript(); followCue(); }
  function playing() { return !!(el.audio && el.audio.currentSrc && !el.audio.paused && !el.audio.ended); }

  window.NewsTalkPlayer = { init: init, page: page, playing: playing, forget: forget, playStory: playStory, playAudio: playAudio, enqueue: enqueue };
})();
