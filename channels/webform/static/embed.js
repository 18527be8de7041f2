/* Switchboard web form. Paste on a page:
 *   <div id="contact"></div>
 *   <script src="https://switchboard.example/forms/KEY/embed.js" data-target="#contact" data-lang="ru"></script>
 * data-lang picks the form's words (else the page's <html lang>, else English).
 * The form is built with createElement/textContent only: nothing typed or configured is parsed as HTML.
 */
(function () {
  "use strict";
  var FORM = /*__SWITCHBOARD_FORM__*/null;
  var WORDS = /*__SWITCHBOARD_WORDS__*/null;
  var script = document.currentScript;
  if (!FORM || !WORDS || !script) { return; }
  // The site's language: the script's data-lang, else the page's own; a language we have no words for is English.
  var asked = String(script.getAttribute("data-lang") ||
                     (document.documentElement && document.documentElement.lang) || "en").slice(0, 2).toLowerCase();
  var words = WORDS[asked] || WORDS.en;
  function say(key, vars) {
    return String(words[key] || WORDS.en[key] || key).replace(/\{(\w+)\}/g, function (_, name) {
      return vars && name in vars ? vars[name] : "";
    });
  }
  // Post back to the server the script came from, whatever site it is pasted on.
  var endpoint = script.src.replace(/\/embed\.js(?:[?#].*)?$/, "");

  var FIELDS = [
    { name: "name", type: "text", autocomplete: "name" },
    { name: "phone", type: "tel", autocomplete: "tel" },
    { name: "email", type: "email", autocomplete: "email" },
    { name: "message", type: "textarea" }
  ];

  function el(tag, props, text) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) { node.setAttribute(key, props[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    // crypto.randomUUID needs a secure context; plain-http pages get an RFC 4122 v4 id the long way.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  var selector = script.getAttribute("data-target");
  var mount = selector ? document.querySelector(selector) : null;
  if (!mount) {
    mount = el("div");
    script.parentNode.insertBefore(mount, script.nextSibling);
  }

  var form = el("form", { "class": "switchboard-form", novalidate: "", lang: words === WORDS.en ? "en" : asked });
  form.appendChild(el("h3", {}, FORM.title || say("title")));
  var inputs = {};
  FIELDS.forEach(function (f) {
    var id = "sb-" + FORM.key + "-" + f.name;
    var row = el("p");
    row.appendChild(el("label", { "for": id }, say(f.name)));
    row.appendChild(el("br"));
    var input = f.type === "textarea"
      ? el("textarea", { id: id, name: f.name, rows: "4", maxlength: String(FORM.maxMessageChars) })
      : el("input", { id: id, name: f.name, type: f.type, autocomplete: f.autocomplete,
                      maxlength: String(FORM.maxFieldChars) });
    input.style.width = "100%";
    row.appendChild(input);
    inputs[f.name] = input;
    form.appendChild(row);
  });
  if (FORM.honeypot) {
    // People never see this input; bots that fill every field are answered "ok" and dropped.
    var trap = el("input", { type: "text", name: FORM.honeypot, tabindex: "-1", autocomplete: "off",
                             "aria-hidden": "true" });
    trap.style.position = "absolute"; trap.style.left = "-10000px";
    form.appendChild(trap);
    inputs[FORM.honeypot] = trap;
  }
  var status = el("p", { role: "status", "aria-live": "polite" });
  var button = el("button", { type: "submit" }, say("send"));
  form.appendChild(button);
  form.appendChild(status);
  mount.appendChild(form);

  // One id per filled-in form: a retry after a timeout reuses it, so the server keeps one lead.
  var submissionId = uuid();

  function show(text, isError) {
    status.textContent = text;
    status.style.color = isError ? "#b00020" : "";
  }

  function body() {
    var data = { submission_id: submissionId, page: location.href, referrer: document.referrer };
    Object.keys(inputs).forEach(function (name) { if (inputs[name].value) { data[name] = inputs[name].value; } });
    // Campaign tags on the page address say which ad brought the client.
    new URLSearchParams(location.search).forEach(function (value, key) {
      if (key.indexOf("utm_") === 0) { data[key] = value; }
    });
    return JSON.stringify(data);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    Object.keys(inputs).forEach(function (name) { inputs[name].removeAttribute("aria-invalid"); });
    button.disabled = true;
    show(say("sending"), false);
    fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": submissionId },
      body: body()
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 201) {
          form.reset();
          submissionId = uuid();
          show(FORM.successMessage || say("thanks"), false);
          return;
        }
        var error = (data && data.error) || {};
        if (error.field && inputs[error.field]) {
          inputs[error.field].setAttribute("aria-invalid", "true");
          inputs[error.field].focus();
        }
        if (response.status === 429 || response.status >= 500) {
          show(say("busy"), true);
        } else if (words === WORDS.en && error.message) {
          show(error.message, true);
        } else if (error.field && inputs[error.field] && WORDS.en[error.field]) {
          // The server's message is English; the site's visitor is told which field, in their language.
          show(say("check_field", { field: say(error.field) }), true);
        } else {
          show(say("check"), true);
        }
      });
    }).catch(function () {
      show(say("offline"), true);
    }).then(function () {
      button.disabled = false;
    });
  });
})();
