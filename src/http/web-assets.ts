// The stylesheet and script of the admin and account pages, served by Mailroom itself (no CDN,
// nothing fetched from the internet): /admin/assets/* and /account/assets/*. Plain CSS and
// vanilla JS; the pages work on a phone (one column under 40em) and with a keyboard (visible
// focus, real buttons and labels), with text contrast of at least 7:1 (WCAG 2.1 AAA) on white.
export const WEB_CSS = `
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111;background:#fff}
a{color:#0a3d91}
a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid #b35900;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px;z-index:9}
header{background:#0b2a4a;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center}
header a,header button.link{color:#fff}
header strong{margin-right:1rem}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem 1rem}
nav a[aria-current=page]{font-weight:700;text-decoration:underline}
main{padding:1rem;max-width:72rem;margin:0 auto}
h1{font-size:1.5rem;margin:.5rem 0 1rem}
h2{font-size:1.2rem;margin:1.5rem 0 .5rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #767676;vertical-align:top}
td.wrap{word-break:break-all;font-family:ui-monospace,monospace;font-size:.85rem}
code.wrap{word-break:break-all;font-size:.95rem}
form.inline{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:.5rem 0}
label{display:block;font-weight:600}
input[type=checkbox]+label{display:inline}
input[type=checkbox]{width:1.25rem;height:1.25rem;vertical-align:middle}
input,select,textarea{font:inherit;padding:.35rem .5rem;border:1px solid #555;border-radius:3px;max-width:100%}
textarea{width:100%}
button{font:inherit;padding:.35rem .8rem;border:1px solid #0b2a4a;background:#0b2a4a;color:#fff;border-radius:3px;cursor:pointer;min-height:2.25rem}
button.secondary{background:#fff;color:#0b2a4a}
button.danger{background:#8b0000;border-color:#8b0000}
button.link{background:none;border:none;text-decoration:underline;padding:0;min-height:0}
.alert{padding:.5rem .75rem;border:2px solid #8b0000;color:#8b0000;margin:.5rem 0}
.alert:empty{display:none}
.ok{color:#0b5d1e;font-weight:700}.bad{color:#8b0000;font-weight:700}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:1rem}
.card{border:1px solid #767676;border-radius:4px;padding:.75rem}
.card svg{width:100%;height:9rem;display:block}
.legend span{display:inline-block;margin-right:.75rem;font-size:.9rem}
.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.25rem;vertical-align:middle}
.muted{color:#444}
.c0{background:#0a3d91}.c1{background:#b35900}.c2{background:#0b5d1e}.c3{background:#8b0000}.c4{background:#5b2a86}.c5{background:#333}
.pager{display:flex;gap:1rem;align-items:center;margin:.5rem 0}
@media (max-width:40em){
  table.responsive thead{display:none}
  table.responsive tr{display:block;border-bottom:2px solid #767676;padding:.25rem 0}
  table.responsive td{display:block;border:none;padding:.15rem .25rem}
  table.responsive td[data-label]::before{content:attr(data-label) ": ";font-weight:600}
  form.inline{flex-direction:column;align-items:stretch}
}
`;

export const WEB_JS = `
"use strict";
(function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";
  var base = document.body.getAttribute("data-api") || "/api/v1";
  function alertBox() { return document.getElementById("alert"); }
  function say(text) { var box = alertBox(); if (box) { box.textContent = text; box.focus && box.focus(); } }
  function api(method, path, body) {
    var headers = { "accept": "application/json" };
    if (csrf) headers["x-csrf-token"] = csrf;
    var init = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) { headers["content-type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path.charAt(0) === "/" && path.indexOf("/api/") !== 0 && path.indexOf("/account/") !== 0 ? base + path : path, init).then(function (r) {
      if (r.status === 204) return null;
      return r.json().catch(function () { return null; }).then(function (data) {
        if (!r.ok) throw new Error((data && data.message) || ("HTTP " + r.status));
        return data;
      });
    });
  }
  window.mailroomApi = api;
  function formBody(form) {
    var body = {}, lists = {};
    var put = function (name, value) {
      var parts = name.split("."), target = body;
      for (var i = 0; i < parts.length - 1; i++) { target[parts[i]] = target[parts[i]] || {}; target = target[parts[i]]; }
      target[parts[parts.length - 1]] = value;
    };
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      if (el.type === "checkbox" && el.getAttribute("data-kind") === "checklist") { lists[el.name] = lists[el.name] || []; if (el.checked) lists[el.name].push(el.value); return; }
      if (el.type === "checkbox") { put(el.name, el.checked); return; }
      if (el.value === "" && el.getAttribute("data-optional") !== null) return;
      if (el.getAttribute("data-kind") === "list") { put(el.name, el.value.split(/[\\s,]+/).filter(Boolean)); return; }
      if (el.type === "number") { put(el.name, el.value === "" ? null : Number(el.value)); return; }
      put(el.name, el.value);
    });
    Object.keys(lists).forEach(function (name) { put(name, lists[name]); });
    return body;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var spec = form.getAttribute("data-api-form");
    if (!spec) return;
    event.preventDefault();
    var parts = spec.split(" ");
    var body = formBody(form);
    var path = parts[1].replace(/\\{(\\w+)\\}/g, function (_, name) { var v = body[name]; delete body[name]; return encodeURIComponent(v); });
    api(parts[0], path, body).then(function (result) {
      if (result && result.csrfToken) csrf = result.csrfToken;
      var next = form.getAttribute("data-then");
      if (next === "show-token" && result && result.token) { say("New token (shown once): " + result.token); return; }
      if (next === "show-secret" && result) {
        // A secret shown once (a new app password): in the page, not an alert, so it can be copied.
        form.hidden = true;
        document.getElementById("secret-text").textContent = form.getAttribute("data-secret-text") || "";
        document.getElementById("secret-value").textContent = result[form.getAttribute("data-secret-field")] || "";
        document.getElementById("secret-out").hidden = false;
        return;
      }
      if (next === "show-totp" && result) {
        form.hidden = true;
        document.getElementById("totp-qr").src = result.qr;
        document.getElementById("totp-secret").textContent = result.secret;
        document.getElementById("totp-uri").textContent = result.uri;
        var list = document.getElementById("totp-recovery");
        (result.recoveryCodes || []).forEach(function (code) { var li = document.createElement("li"); li.textContent = code; list.appendChild(li); });
        document.getElementById("totp-setup").hidden = false;
        document.getElementById("totp-confirm-code").focus();
        return;
      }
      if (next === "message") { say(form.getAttribute("data-message") || "Saved."); form.reset && form.getAttribute("data-reset") !== null && form.reset(); return; }
      if (next) { window.location.assign(next); return; }
      window.location.reload();
    }, function (error) { say(error.message); });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button") : null;
    if (!button) return;
    var copy = button.getAttribute("data-copy");
    if (copy !== null) {
      var done = function () { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(copy).then(done, function () { say("Copy failed: select the text instead."); });
      else say("Copy needs HTTPS: select the text instead.");
      return;
    }
    var action = button.getAttribute("data-action");
    if (!action) return;
    var confirmText = button.getAttribute("data-confirm");
    if (confirmText && !window.confirm(confirmText)) return;
    var body;
    var promptField = button.getAttribute("data-prompt");
    if (promptField) {
      var value = window.prompt(button.getAttribute("data-prompt-text") || promptField);
      if (value === null) return;
      body = {}; body[promptField] = value;
    }
    var parts = action.split(" ");
    button.disabled = true;
    api(parts[0], parts[1], body).then(function () {
      var next = button.getAttribute("data-then");
      if (next) window.location.assign(next); else window.location.reload();
    }, function (error) { button.disabled = false; say(error.message); });
  });
  // WebAuthn passkeys (auth/webauthn.ts): the options come as JSON with base64url binaries; the
  // browser's answer goes back the same way (W3C WebAuthn Level 3 §5.1.8 JSON forms, by hand so
  // that browsers without parseCreationOptionsFromJSON work too).
  function b64u(buffer) {
    var bytes = new Uint8Array(buffer), text = "";
    for (var i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  }
  function unb64u(text) {
    var raw = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function credentialIds(list) {
    return (list || []).map(function (c) { return { type: "public-key", id: unb64u(c.id), transports: c.transports }; });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-passkey-login]") : null;
    if (!button) return;
    if (!window.PublicKeyCredential) { say("This browser has no passkey support."); return; }
    var path = button.getAttribute("data-passkey-login");
    button.disabled = true;
    api("POST", path + "/options", {}).then(function (options) {
      options.challenge = unb64u(options.challenge);
      options.allowCredentials = credentialIds(options.allowCredentials);
      return navigator.credentials.get({ publicKey: options });
    }).then(function (credential) {
      var r = credential.response;
      return api("POST", path, { response: { id: credential.id, rawId: b64u(credential.rawId), type: credential.type, authenticatorAttachment: credential.authenticatorAttachment || undefined, clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
        response: { clientDataJSON: b64u(r.clientDataJSON), authenticatorData: b64u(r.authenticatorData), signature: b64u(r.signature), userHandle: r.userHandle ? b64u(r.userHandle) : undefined } } });
    }).then(function () {
      window.location.assign(button.getAttribute("data-then") || "/");
    }, function (error) { button.disabled = false; say(error.message || String(error)); });
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var path = form.getAttribute && form.getAttribute("data-passkey-register");
    if (!path) return;
    event.preventDefault();
    if (!window.PublicKeyCredential) { say("This browser has no passkey support."); return; }
    var check = {};
    check[form.getAttribute("data-password-field") || "current"] = form.elements.current.value;
    var name = form.elements.name.value;
    api("POST", path + "/options", check).then(function (options) {
      options.challenge = unb64u(options.challenge);
      options.user.id = unb64u(options.user.id);
      options.excludeCredentials = credentialIds(options.excludeCredentials);
      return navigator.credentials.create({ publicKey: options });
    }).then(function (credential) {
      var r = credential.response;
      return api("POST", path, { name: name, response: { id: credential.id, rawId: b64u(credential.rawId), type: credential.type, clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
        response: { clientDataJSON: b64u(r.clientDataJSON), attestationObject: b64u(r.attestationObject), transports: r.getTransports ? r.getTransports() : [] } } });
    }).then(function () { window.location.reload(); }, function (error) { say(error.message || String(error)); });
  });
  var checkButton = document.getElementById("dns-check");
  if (checkButton) checkButton.addEventListener("click", function () {
    checkButton.disabled = true;
    say("");
    api("GET", checkButton.getAttribute("data-path")).then(function (result) {
      checkButton.disabled = false;
      (result.checks || []).forEach(function (check) {
        var cell = document.querySelector('[data-check="' + CSS.escape(check.type + " " + check.owner) + '"]');
        if (!cell) return;
        cell.textContent = check.status === "ok" ? "\\u2713 ok" : "\\u2717 " + check.status;
        cell.className = check.status === "ok" ? "ok" : "bad";
        cell.title = check.detail || "";
      });
      var summary = document.getElementById("dns-summary");
      if (summary) summary.textContent = result.problems === 0 ? "Every record is published." : result.problems + " of " + result.lines.length + " checks are not ok.";
    }, function (error) { checkButton.disabled = false; say(error.message); });
  });
  var dashboard = document.getElementById("dashboard");
  if (dashboard) {
    var labels = { received: "in (SMTP)", relayed: "out (relayed)", delivered: "stored here", deferred: "deferred", bounced: "bounced", loginsFailed: "failed logins" };
    var palette = ["#0a3d91", "#b35900", "#0b5d1e", "#8b0000", "#5b2a86", "#333333"];
    var draw = function (svg, series, names) {
      var width = 300, height = 100, max = 1;
      names.forEach(function (n) { (series[n] || []).forEach(function (v) { if (v > max) max = v; }); });
      var length = 0; names.forEach(function (n) { length = Math.max(length, (series[n] || []).length); });
      var html = '<line x1="0" y1="' + height + '" x2="' + width + '" y2="' + height + '" stroke="#767676"/>';
      names.forEach(function (n, i) {
        var values = series[n] || [];
        var points = values.map(function (v, x) { return (length < 2 ? 0 : (x * width) / (length - 1)).toFixed(1) + "," + (height - (v * (height - 4)) / max).toFixed(1); }).join(" ");
        html += '<polyline fill="none" stroke-width="2" stroke="' + palette[i % palette.length] + '" points="' + points + '"/>';
      });
      svg.innerHTML = html;
      svg.setAttribute("viewBox", "0 0 " + width + " " + height);
      svg.setAttribute("preserveAspectRatio", "none");
    };
    var refresh = function () {
      var minutes = document.getElementById("range") ? document.getElementById("range").value : "1440";
      api("GET", "/api/v1/stats?minutes=" + minutes).then(function (view) {
        var series = view.series || {};
        Array.prototype.forEach.call(document.querySelectorAll("[data-chart]"), function (card) {
          var names = card.getAttribute("data-chart").split(" ");
          if (names[0] === "connections.*") names = Object.keys(series).filter(function (n) { return n.indexOf("connections.") === 0; });
          draw(card.querySelector("svg"), series, names);
          card.querySelector(".legend").innerHTML = names.map(function (n, i) {
            var total = (series[n] || []).reduce(function (a, b) { return a + b; }, 0);
            return '<span><i class="c' + (i % palette.length) + '"></i>' + (labels[n] || n.replace("connections.", "")) + ': <b data-total="' + n + '">' + total + "</b></span>";
          }).join("");
        });
        var stamp = document.getElementById("updated");
        if (stamp) stamp.textContent = "Updated " + new Date().toLocaleTimeString();
      }, function (error) { say(error.message); });
    };
    refresh();
    setInterval(refresh, 5000);
    var range = document.getElementById("range");
    if (range) range.addEventListener("change", refresh);
  }
})();
`;
