/* The feedback questionnaire: answers are saved as they are given, so that nothing is lost.
 *
 * Every change is written to localStorage at once (one key per round and member) and saved to the server
 * as the member's draft after a short pause. When the session has ended the server answers 401: the answers
 * stay on this device, a "log in again" link appears, and after logging in the page merges the server's
 * draft with the copy on this device. A failed save is retried every 15 seconds and when the network is
 * back. After submission (the thank-you or "already submitted" page) the copy on this device is removed.
 * Every word shown comes from the page, rendered by the server in the reader's language.
 */
(function () {
  "use strict";

  const SAVE_DELAY_MS = 800;
  const RETRY_MS = 15000;

  function storage() {
    try {
      return window.localStorage;
    } catch (err) {
      return null; // storage switched off: the server draft still keeps the answers
    }
  }

  const done = document.getElementById("answer-submitted");
  if (done) {
    const store = storage();
    if (store && done.dataset.storageKey) {
      store.removeItem(done.dataset.storageKey);
    }
    return;
  }

  const form = document.getElementById("answer-form");
  if (!form) {
    return;
  }

  const data = JSON.parse(form.dataset.state);
  const prefix = data.prefix;
  const key = data.storage_key;
  const isOpen = form.dataset.open === "true";
  const items = Array.from(form.querySelectorAll("[data-item]"));
  const sync = document.getElementById("answer-sync");
  const login = document.getElementById("answer-login");
  const progress = document.getElementById("answer-progress");
  const progressText = document.getElementById("answer-progress-text");

  let revision = 0; // bumped on every change
  let savedRevision = 0; // the last revision the server confirmed
  let inFlight = false;
  let stopped = false; // the server will not take more (session ended, submitted, closed)
  let debounce = null;
  let retry = null;

  // --- the answers in the form ---------------------------------------------------------------

  function fieldsOf(item) {
    return Array.from(item.querySelectorAll("[name='" + prefix + item.dataset.item + "']"));
  }

  function valueOf(item) {
    const fields = fieldsOf(item);
    if (fields.length && fields[0].type === "radio") {
      const checked = fields.find((f) => f.checked);
      return checked ? checked.value : "";
    }
    return fields.length ? fields[0].value : "";
  }

  function setValue(item, value) {
    const text = value === null || value === undefined ? "" : String(value);
    fieldsOf(item).forEach((field) => {
      if (field.type === "radio") {
        field.checked = field.value === text;
      } else {
        field.value = text;
      }
    });
  }

  function collect() {
    const answers = {};
    items.forEach((item) => {
      answers[item.dataset.item] = valueOf(item);
    });
    return answers;
  }

  function showProgress() {
    const answered = items.filter((item) => valueOf(item).trim() !== "").length;
    if (progress) {
      progress.value = answered;
    }
    if (progressText && form.dataset.progress) {
      progressText.textContent = form.dataset.progress
        .replace("{done}", String(answered)).replace("{total}", String(items.length));
    }
  }

  function showSync(kind, detail) {
    if (!sync) {
      return;
    }
    const text = form.dataset[kind] || "";
    sync.textContent = detail ? text + " " + detail : text;
    sync.dataset.sync = kind;
    if (login) {
      login.hidden = kind !== "expired";
    }
  }

  // --- the copy on this device ---------------------------------------------------------------

  function readLocal() {
    const store = storage();
    if (!store) {
      return null;
    }
    try {
      const copy = JSON.parse(store.getItem(key) || "null");
      return copy && typeof copy === "object" && copy.answers && typeof copy.answers === "object" ? copy : null;
    } catch (err) {
      return null;
    }
  }

  function writeLocal(pending) {
    const store = storage();
    if (!store) {
      return;
    }
    try {
      store.setItem(key, JSON.stringify({answers: collect(), pending: pending, at: new Date().toISOString()}));
    } catch (err) {
      // storage full or refused: the server draft is the only copy
    }
  }

  // --- saving to the server ------------------------------------------------------------------

  function schedule(delay) {
    if (!isOpen || stopped) {
      return;
    }
    clearTimeout(debounce);
    debounce = setTimeout(save, delay);
  }

  function retryLater() {
    clearTimeout(retry);
    retry = setTimeout(() => {
      if (revision !== savedRevision) {
        save();
      }
    }, RETRY_MS);
  }

  async function save() {
    if (inFlight || stopped || revision === savedRevision) {
      return;
    }
    if (navigator.onLine === false) {
      showSync("offline");
      return;
    }
    inFlight = true;
    const sent = revision;
    showSync("saving");
    try {
      const response = await fetch(form.dataset.saveUrl, {
        method: "POST",
        credentials: "same-origin",
        redirect: "error", // a redirect would be the log-in page, never a saved draft
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": form.dataset.csrf},
        body: JSON.stringify({answers: collect()}),
      });
      let body = null;
      try {
        body = await response.json();
      } catch (err) {
        body = null;
      }
      if (response.ok) {
        savedRevision = sent;
        if (revision === sent) {
          writeLocal(false);
        }
        showSync("saved");
      } else if (response.status === 401 || response.status === 400) {
        // The session ended (or its token with it): keep everything here until the member logs in again.
        stopped = true;
        showSync("expired");
      } else if (response.status === 409) {
        stopped = true;
        showSync("refused", body && body.detail);
        if (body && body.state === "submitted") {
          const store = storage();
          if (store) {
            store.removeItem(key);
          }
        }
      } else if (response.status >= 400 && response.status < 500) {
        showSync("refused", body && body.detail); // wait for the next change
        savedRevision = sent;
      } else {
        showSync("failed");
        retryLater();
      }
    } catch (err) {
      showSync(navigator.onLine === false ? "offline" : "failed");
      retryLater();
    } finally {
      inFlight = false;
      if (!stopped && revision !== savedRevision) {
        schedule(SAVE_DELAY_MS);
      }
    }
  }

  function changed() {
    revision += 1;
    writeLocal(true);
    showProgress();
    schedule(SAVE_DELAY_MS);
  }

  // --- start: the server's draft, then what this device kept but the server has not got -------

  const saved = data.saved && typeof data.saved === "object" ? data.saved : {};
  const local = readLocal();
  let differs = false;
  items.forEach((item) => {
    const code = item.dataset.item;
    if (local && local.pending && Object.prototype.hasOwnProperty.call(local.answers, code)) {
      const mine = String(local.answers[code] === null ? "" : local.answers[code]);
      if (mine !== valueOf(item)) {
        setValue(item, mine);
        differs = true;
      }
    } else if (!valueOf(item) && Object.prototype.hasOwnProperty.call(saved, code)) {
      setValue(item, saved[code]);
    }
  });
  showProgress();
  if (isOpen && differs) {
    changed(); // the server has not got these yet
  } else if (isOpen) {
    writeLocal(Boolean(local && local.pending && differs));
  }

  form.addEventListener("change", changed);
  form.addEventListener("input", (event) => {
    if (event.target && event.target.tagName === "TEXTAREA") {
      changed();
    }
  });
  form.addEventListener("submit", () => {
    writeLocal(true); // kept until the thank-you page says the answers arrived
    clearTimeout(debounce);
    stopped = true;
  });
  window.addEventListener("online", () => {
    if (revision !== savedRevision) {
      stopped = false;
      save();
    }
  });
})();
