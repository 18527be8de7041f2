// Runs embed.js in Node against a tiny stand-in DOM, with Node's real fetch to the test server.
// argv: <script url> <script file> <json of input values> [data-lang]; prints the outcome as JSON.
"use strict";
const fs = require("fs");
const vm = require("vm");
const [scriptUrl, scriptFile, valuesJson, lang] = process.argv.slice(2);

class El {
  constructor(tag) {
    Object.assign(this, { tagName: tag, children: [], attrs: {}, style: {}, listeners: {},
                          textContent: "", value: "", disabled: false, parentNode: null });
  }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  getAttribute(k) { return k in this.attrs ? this.attrs[k] : null; }
  removeAttribute(k) { delete this.attrs[k]; }
  appendChild(c) { this.children.push(c); c.parentNode = this; return c; }
  insertBefore(c, ref) { this.children.splice(this.children.indexOf(ref) + 1, 0, c); c.parentNode = this; return c; }
  addEventListener(type, fn) { this.listeners[type] = fn; }
  focus() { this.focused = true; }
  reset() { walk(this).forEach((n) => { n.value = ""; }); }
  set innerHTML(_) { throw new Error("innerHTML used"); }
}
function walk(node, out = []) { out.push(node); node.children.forEach((c) => walk(c, out)); return out; }

const mount = new El("div");
const script = new El("script");
script.src = scriptUrl;
script.setAttribute("data-target", "#contact");
if (lang) script.setAttribute("data-lang", lang);
global.window = globalThis;
global.document = { currentScript: script, referrer: "https://yandex.ru/",
                    createElement: (t) => new El(t), querySelector: (s) => (s === "#contact" ? mount : null) };
global.location = { href: "https://shop.example/landing?utm_source=vk&x=1", search: "?utm_source=vk&x=1" };

vm.runInThisContext(fs.readFileSync(scriptFile, "utf8"));

const nodes = walk(mount);
const byName = (name) => nodes.find((n) => n.attrs.name === name);
for (const [name, value] of Object.entries(JSON.parse(valuesJson))) { byName(name).value = value; }
const form = nodes.find((n) => n.tagName === "form");
const status = nodes.find((n) => n.attrs.role === "status");
const button = nodes.find((n) => n.tagName === "button");
form.listeners.submit({ preventDefault() {} });

(function poll() {
  if (button.disabled) { setTimeout(poll, 10); return; }
  console.log(JSON.stringify({
    status: status.textContent,
    invalid: nodes.filter((n) => n.attrs["aria-invalid"] === "true").map((n) => n.attrs.name),
    title: nodes.find((n) => n.tagName === "h3").textContent,
    phoneValue: byName("phone").value,
    honeypotHidden: byName("website").attrs.tabindex === "-1",
    labels: nodes.filter((n) => n.tagName === "label").map((n) => n.textContent),
    button: button.textContent,
  }));
})();
