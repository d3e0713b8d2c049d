// Checks in the browser that a log entry is in the log: leaf hash = SHA-256(0x00 || entry),
// root rebuilt from the inclusion proof (RFC 9162, 2.1.3.2) and compared with the root of the
// signed checkpoint (C2SP tlog-checkpoint: origin, size, base64 root hash).
(function () {
  "use strict";

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function fromHex(text) {
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(text.substr(i * 2, 2), 16); }
    return out;
  }
  function concat(prefix, a, b) {
    var out = new Uint8Array(1 + a.length + (b ? b.length : 0));
    out[0] = prefix; out.set(a, 1); if (b) { out.set(b, 1 + a.length); }
    return out;
  }
  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }

  async function rootFromProof(leaf, index, size, proof) {
    if (index >= size) { return null; }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (sn === 0) { return null; }
      if ((fn & 1) === 1 || fn === sn) {
        r = await sha256(concat(1, p, r));
        if ((fn & 1) === 0) { while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; } }
      } else {
        r = await sha256(concat(1, r, p));
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 ? r : null;
  }

  async function check(el) {
    var result = document.getElementById("proof-result");
    try {
      if (!window.crypto || !crypto.subtle) { throw new Error("WebCrypto unavailable (needs HTTPS or localhost)"); }
      var response = await fetch(el.getAttribute("data-bundle-url"), { credentials: "same-origin" });
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      var bundle = await response.json();
      var entry = bundle.entries[0];
      var note = bundle.checkpoints[entry.checkpoint];
      var lines = note.split("\n");
      var size = parseInt(lines[1], 10);
      var rootBin = atob(lines[2]);
      var root = new Uint8Array(rootBin.length);
      for (var i = 0; i < rootBin.length; i++) { root[i] = rootBin.charCodeAt(i); }
      var body = new TextEncoder().encode(entry.body);
      var leaf = await sha256(concat(0, body));
      var proof = entry.proof.map(fromHex);
      var computed = await rootFromProof(leaf, entry.index, size, proof);
      document.getElementById("entry-body").textContent = entry.body;
      document.getElementById("leaf-hash").textContent = hex(leaf);
      document.getElementById("checkpoint-note").textContent = note;
      document.getElementById("proof-path").textContent = entry.proof.join(" ") || "(none)";
      document.getElementById("computed-root").textContent = computed ? hex(computed) : "(proof does not fit)";
      var ok = computed !== null && hex(computed) === hex(root);
      result.className = ok ? "ok" : "alert";
      result.setAttribute("data-verified", ok ? "yes" : "no");
      result.textContent = (ok ? "✓ " : "✗ ") + result.getAttribute(ok ? "data-ok" : "data-bad")
        + " (index " + entry.index + ", log size " + size + ")";
    } catch (err) {
      result.className = "alert";
      result.setAttribute("data-verified", "error");
      result.textContent = "✗ " + err.message;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = document.getElementById("proof-check");
    if (el) { check(el); }
  });
})();
