/*
 * The optional self-generated code of a questionnaire (instrument versions with `self_generated_code: true`).
 *
 * The three facts never leave the page: their inputs have no name, so the form does not send them. Whenever
 * they change, the page builds HMAC-SHA256(programme key, facts) with the browser's Web Crypto and puts the hex
 * value in the hidden field `code`, which is sent with the answers on submit. Facts are normalised first
 * (Unicode NFKC, spaces removed, lower case; the day as a number) so "３" and "3", "Li " and "li" give one code.
 * With some but not all facts given, no code is sent. Web Crypto exists only on secure pages (https, or the
 * machine itself): elsewhere the fields are disabled and the member answers without a code.
 */
(function () {
  "use strict";
  const box = document.getElementById("personal-code");
  if (!box) return;
  const status = document.getElementById("code-status");
  const output = document.getElementById("code-value");
  const inputs = ["code-mother", "code-day", "code-school"].map((id) => document.getElementById(id));
  const subtle = window.crypto && window.crypto.subtle;

  if (!subtle || !window.isSecureContext) {
    inputs.forEach((input) => { input.disabled = true; });
    status.textContent = box.dataset.unavailable;
    return;
  }

  function normalise(value, index) {
    const text = value.normalize("NFKC").replace(/\s+/g, "").toLowerCase();
    if (index === 1 && /^[0-9]+$/.test(text)) return String(parseInt(text, 10));
    return text;
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let latest = 0;
  async function rebuild() {
    const run = ++latest;
    const facts = inputs.map((input, i) => normalise(input.value, i));
    const given = facts.filter((f) => f !== "").length;
    if (given === 0) {
      output.value = "";
      status.textContent = "";
      return;
    }
    if (given < facts.length) {
      output.value = "";
      status.textContent = box.dataset.incomplete;
      return;
    }
    const encoder = new TextEncoder();
    const key = await subtle.importKey("raw", encoder.encode(box.dataset.key), { name: "HMAC", hash: "SHA-256" },
      false, ["sign"]);
    const signature = await subtle.sign("HMAC", key, encoder.encode(facts.join("\u001f")));
    if (run !== latest) return; // a later change is being turned into its code
    output.value = hex(signature);
    status.textContent = box.dataset.ready;
  }

  // A submit pressed while the code is still being built waits for it (a few milliseconds), then goes on.
  let pending = null;
  function changed() {
    const running = rebuild();
    pending = running;
    running.finally(() => { if (pending === running) pending = null; });
  }
  const form = box.closest("form");
  form.addEventListener("submit", (event) => {
    if (!pending) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const submitter = event.submitter;
    pending.then(() => form.requestSubmit(submitter));
  }, true);
  inputs.forEach((input) => input.addEventListener("input", changed));
  changed();
})();
