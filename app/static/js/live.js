/* The live facilitation view: check-in, presenter and the Balint phases as a timer.
 *
 * The state lives in the page and in localStorage (one key per meeting), so a reload or a dropped network
 * loses nothing; it is saved to the server after each change (debounced) and again when the network is
 * back or every 15 seconds while unsaved. Every word shown comes from the page (rendered by the server in
 * the reader's language); this script only moves existing elements and fills in numbers.
 */
(function () {
  "use strict";

  const root = document.getElementById("live");
  if (!root) {
    return;
  }

  const SAVE_DELAY_MS = 800;
  const RETRY_MS = 15000;
  const ENDED = "ended";
  const data = JSON.parse(root.dataset.state);
  const PHASES = data.phases;
  const PLAN = data.plan;
  const MEMBERS = new Set(data.members);
  const saveUrl = root.dataset.saveUrl;
  const csrfToken = root.dataset.csrf;

  const checkins = Array.from(root.querySelectorAll(".live-checkin"));
  const presenterItems = Array.from(root.querySelectorAll(".live-presenter-item"));
  const presenterButtons = Array.from(root.querySelectorAll(".live-presenter"));
  const phaseItems = Array.from(root.querySelectorAll(".live-phase"));
  const el = (id) => document.getElementById(id);
  const sync = el("live-sync");
  const advance = el("live-advance");
  const overrun = el("live-overrun");
  const timerCard = el("live-timer");

  let state = null;
  let dirty = false; // changes not yet on the server
  let refused = false; // the server refused this state: wait for the next change before trying again
  let revision = 0;
  let inFlight = false;
  let saveAgain = false;
  let debounce = null;
  let overrunShownFor = null;

  // --- state -------------------------------------------------------------------------------

  function isMoment(value) {
    return typeof value === "string" && !Number.isNaN(Date.parse(value));
  }

  /** A state as this page understands it, whatever was stored (older pages, changed membership). */
  function normalise(raw) {
    const s = raw && typeof raw === "object" ? raw : {};
    const present = Array.isArray(s.present) ? s.present.filter((id) => MEMBERS.has(id)) : [];
    const unique = Array.from(new Set(present));
    const phase = PHASES.includes(s.phase) || s.phase === ENDED ? s.phase : null;
    const log = Array.isArray(s.phase_log)
      ? s.phase_log.filter((e) => e && PHASES.includes(e.phase) && isMoment(e.started_at))
        .map((e) => ({phase: e.phase, started_at: e.started_at, ended_at: isMoment(e.ended_at) ? e.ended_at : null}))
      : [];
    return {
      present: unique,
      presenter_id: unique.includes(s.presenter_id) ? s.presenter_id : null,
      phase: phase,
      phase_started_at: phase && phase !== ENDED && isMoment(s.phase_started_at) ? s.phase_started_at : null,
      phase_log: log,
      started_at: isMoment(s.started_at) ? s.started_at : null,
      saved_at: typeof s.saved_at === "string" ? s.saved_at : null,
    };
  }

  function readLocal() {
    try {
      return JSON.parse(window.localStorage.getItem(data.storage_key));
    } catch (err) {
      return null;
    }
  }

  function writeLocal() {
    try {
      window.localStorage.setItem(data.storage_key, JSON.stringify({state: state, dirty: dirty}));
    } catch (err) {
      // Private browsing or a full storage: the page still holds the state and saves it to the server.
    }
  }

  /** Unsaved changes on this device win; otherwise the server's copy (another device may have saved later). */
  function load() {
    const local = readLocal();
    if (local && local.dirty && local.state) {
      state = normalise(local.state);
      dirty = true;
    } else {
      state = normalise(data.saved);
    }
    writeLocal();
  }

  function change(mutate) {
    mutate();
    revision += 1;
    dirty = true;
    refused = false;
    writeLocal();
    render();
    clearTimeout(debounce);
    debounce = setTimeout(save, SAVE_DELAY_MS);
  }

  // --- saving ------------------------------------------------------------------------------

  function showSync(kind, detail) {
    const warn = kind === "offline" || kind === "failed" || kind === "refused";
    sync.classList.toggle("text-muted", !warn);
    sync.classList.toggle("live-sync-warn", warn);
    sync.dataset.kind = kind;
    sync.textContent = kind === "refused" ? sync.dataset.refused + " " + detail : sync.dataset[kind] || "";
  }

  async function save() {
    clearTimeout(debounce);
    if (!dirty || refused) {
      return;
    }
    if (inFlight) {
      saveAgain = true;
      return;
    }
    if (navigator.onLine === false) {
      showSync("offline");
      return;
    }
    inFlight = true;
    const sent = revision;
    try {
      const response = await fetch(saveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrfToken},
        body: JSON.stringify(state),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (err) {
        body = null; // not JSON: e.g. the log-in page after the session ended
      }
      if (response.ok && body && body.saved_at) {
        state.saved_at = body.saved_at;
        dirty = revision !== sent;
        writeLocal();
        showSync("saved");
      } else if (response.status >= 400 && response.status < 500 && body && body.detail) {
        refused = true;
        showSync("refused", body.detail);
      } else {
        showSync("failed");
      }
    } catch (err) {
      showSync("offline"); // the network is down (fetch rejects only when nothing came back)
    } finally {
      inFlight = false;
      if (saveAgain || (dirty && !refused && revision !== sent)) {
        saveAgain = false;
        debounce = setTimeout(save, SAVE_DELAY_MS);
      }
    }
  }

  // --- the phases --------------------------------------------------------------------------

  function phaseIndex() {
    return PHASES.indexOf(state.phase);
  }

  function advancePhase() {
    if (state.phase === ENDED) {
      return;
    }
    const now = new Date().toISOString();
    change(() => {
      const index = phaseIndex();
      const open = state.phase_log[state.phase_log.length - 1];
      if (open && open.ended_at === null) {
        open.ended_at = now;
      }
      if (index === PHASES.length - 1) {
        state.phase = ENDED;
        state.phase_started_at = null;
        return;
      }
      const next = PHASES[index + 1];
      if (index === -1) {
        state.started_at = now;
      }
      state.phase = next;
      state.phase_started_at = now;
      state.phase_log.push({phase: next, started_at: now, ended_at: null});
    });
  }

  function clock(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(total / 3600);
    const m = Math.floor((total % 3600) / 60);
    const s = String(total % 60).padStart(2, "0");
    return h > 0 ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
  }

  function lastEnd() {
    const ends = state.phase_log.map((e) => e.ended_at).filter(isMoment);
    return ends.length ? Date.parse(ends[ends.length - 1]) : null;
  }

  /** The clocks and the quiet over-time warning; runs every second. */
  function tick() {
    const now = Date.now();
    const index = phaseIndex();
    const phaseEl = el("live-phase-elapsed");
    const totalEl = el("live-total-elapsed");
    const end = state.phase === ENDED ? lastEnd() || now : now;
    totalEl.textContent = state.started_at ? clock(end - Date.parse(state.started_at)) : clock(0);
    let over = false;
    if (index >= 0 && state.phase_started_at) {
      const elapsed = now - Date.parse(state.phase_started_at);
      phaseEl.textContent = clock(elapsed);
      over = elapsed > PLAN[index] * 60000;
    } else {
      phaseEl.textContent = clock(0);
    }
    timerCard.classList.toggle("live-over", over);
    phaseEl.classList.toggle("live-clock-over", over);
    // The status text is set once per over-run phase, so that a screen reader hears it once.
    const key = over ? state.phase + "@" + state.phase_started_at : null;
    if (key !== overrunShownFor) {
      overrunShownFor = key;
      overrun.textContent = over ? phaseItems[index].dataset.overrun : "";
    }
  }

  // --- drawing -----------------------------------------------------------------------------

  function render() {
    const present = new Set(state.present);
    checkins.forEach((button) => {
      const on = present.has(Number(button.dataset.memberId));
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("active", on);
    });
    el("live-present-count").textContent = String(present.size);

    presenterItems.forEach((item) => {
      item.hidden = !present.has(Number(item.dataset.memberId));
    });
    presenterButtons.forEach((button) => {
      const on = Number(button.dataset.memberId) === state.presenter_id;
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.classList.toggle("active", on);
    });
    el("live-presenter-empty").hidden = present.size > 0;
    const chosen = el("live-presenter-name");
    const chosenButton = presenterButtons.find((b) => Number(b.dataset.memberId) === state.presenter_id);
    chosen.textContent = chosenButton
      ? chosenButton.querySelector(".live-name").textContent
      : chosen.dataset.none;

    const index = phaseIndex();
    phaseItems.forEach((item, i) => {
      const done = state.phase === ENDED || (index >= 0 && i < index);
      const current = i === index;
      item.classList.toggle("live-phase-done", done);
      item.classList.toggle("live-phase-current", current);
      if (current) {
        item.setAttribute("aria-current", "step");
      } else {
        item.removeAttribute("aria-current");
      }
      const words = item.querySelector(".live-phase-state");
      words.textContent = current ? words.dataset.current : done ? words.dataset.done : "";
    });
    const name = el("live-phase-name");
    if (index >= 0) {
      name.textContent = phaseItems[index].querySelector(".live-phase-label").textContent;
      el("live-phase-planned").textContent = String(PLAN[index]);
    } else {
      name.textContent = state.phase === ENDED ? name.dataset.ended : name.dataset.none;
      el("live-phase-planned").textContent = "–";
    }
    let label = advance.dataset.labelNext;
    if (index === -1) {
      label = state.phase === ENDED ? advance.dataset.labelEnded : advance.dataset.labelStart;
    } else if (index === PHASES.length - 1) {
      label = advance.dataset.labelFinish;
    }
    advance.textContent = label;
    advance.disabled = state.phase === ENDED;
    tick();
  }

  // --- wiring ------------------------------------------------------------------------------

  checkins.forEach((button) => {
    button.addEventListener("click", () => {
      const id = Number(button.dataset.memberId);
      change(() => {
        if (state.present.includes(id)) {
          state.present = state.present.filter((other) => other !== id);
          if (state.presenter_id === id) {
            state.presenter_id = null;
          }
        } else {
          state.present.push(id);
        }
      });
    });
  });

  presenterButtons.forEach((button) => {
    button.addEventListener("click", () => {
      const id = Number(button.dataset.memberId);
      if (!state.present.includes(id)) {
        return;
      }
      change(() => {
        state.presenter_id = state.presenter_id === id ? null : id;
      });
    });
  });

  advance.addEventListener("click", advancePhase);
  window.addEventListener("online", () => {
    refused = false;
    if (dirty) {
      save();
    } else {
      showSync(state.saved_at ? "saved" : "clear");
    }
  });
  window.addEventListener("offline", () => showSync("offline"));
  setInterval(() => {
    if (dirty && !refused) {
      save();
    }
  }, RETRY_MS);
  setInterval(tick, 1000);

  load();
  render();
  if (dirty) {
    save();
  } else if (state.saved_at) {
    showSync("saved");
  }
})();
