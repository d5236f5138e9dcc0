// The control page: built from the engine's OSCQuery namespace (GET /), kept in step over the
// WebSocket (LISTEN "/", binary OSC both ways). A parameter the engine adds appears here as a
// control with no change to this page; sections only decide where known names go.

import { decodePacket, encodeMessage } from "./osc.js";
import { Choice, Fader, NumberBox, Toggle, button, paramName } from "./controls.js";

const token = new URLSearchParams(location.search).get("token");
const withToken = (url) => (token ? `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}` : url);
const $ = (id) => document.getElementById(id);

const page = {
  controls: new Map(),       // address -> control (Fader, Toggle, Choice, NumberBox)
  overblend: [],             // faders whose shown range follows the safety range
  groups: [],                // resolution group faders
  safety: { min: null, max: null },
  ws: null,
  retry: 500,
  outgoing: new Map(),       // address -> args, sent once per animation frame
  state: null,
  reloadTimer: 0,
};

// ------------------------------------------------------------------ sending
function flushOutgoing() {
  page.flushing = false;
  const ws = page.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) { page.outgoing.clear(); return; }
  for (const [address, args] of page.outgoing) ws.send(encodeMessage(address, args));
  page.outgoing.clear();
}

function send(address, args) {
  page.outgoing.set(address, args);
  if (!page.flushing) {
    page.flushing = true;
    if (document.visibilityState === "visible") requestAnimationFrame(flushOutgoing); else setTimeout(flushOutgoing, 0);
  }
}

function sendNow(address, args = []) {
  if (page.ws && page.ws.readyState === WebSocket.OPEN) page.ws.send(encodeMessage(address, args));
}

function argsFor(node, value) {
  if (node.TYPE === "f") return [["f", value]];
  if (node.TYPE === "i") return [["i", Math.round(value)]];
  if (node.TYPE === "T" || node.TYPE === "F") return [[value ? "T" : "F"]];
  if (node.TYPE === "s") return [["s", value]];
  return [];
}

// ------------------------------------------------------------------ building
function methods(node, out = []) {
  if (node.TYPE) out.push(node);
  for (const child of Object.values(node.CONTENTS || {})) methods(child, out);
  return out;
}

const SPECIAL = new Set(["/preset/recall", "/preset/save", "/midi/learn", "/engine/fps", "/engine/frame_ms",
  "/latent/seed", "/latent/next_seed", "/latent/prev_seed", "/blend/panic"]);

function sectionOf(name) {
  if (/^blend\.layer\.\d+$/.test(name)) return "layers";
  if (name.startsWith("blend.curve.")) return "curve";
  if (name.startsWith("blend.")) return "overrides";
  if (name.startsWith("latent.")) return "latent";
  if (name.startsWith("preset.") || name.startsWith("tempo.")) return "presets";
  if (name.startsWith("engine.")) return "engine";
  return "other";
}

function shortLabel(name) {
  const parts = name.split(".");
  return parts.slice(1).join(" ") || name;
}

function makeControl(node, options = {}) {
  const address = node.FULL_PATH;
  const name = paramName(address);
  const range = (node.RANGE && node.RANGE[0]) || {};
  const onInput = (value) => send(address, argsFor(node, value));
  let control;
  if (node.ACCESS === 2 && (node.TYPE === "I" || node.TYPE === "N")) {
    return { el: button(name, options.label || shortLabel(name), () => sendNow(address)), node };
  }
  if (node.TYPE === "T" || node.TYPE === "F") control = new Toggle({ name, onInput });
  else if (node.TYPE === "s" && range.VALS) control = new Choice({ name, options: range.VALS, onInput });
  else if ((node.TYPE === "f" || node.TYPE === "i") && "MIN" in range && "MAX" in range) {
    if (node.TYPE === "i" && range.MAX - range.MIN > 1000) {
      control = new NumberBox({ name, min: range.MIN, max: range.MAX, onInput });
    } else {
      const overblend = (node.TAGS || []).includes("overblend") && !name.startsWith("blend.safety.");
      control = new Fader({ name, min: range.MIN, max: range.MAX, integer: node.TYPE === "i",
        vertical: Boolean(options.vertical), overblend, onInput });
      if (overblend) page.overblend.push(control);
    }
  } else {
    return null;                                   // nothing a page can edit (e.g. strings without choices)
  }
  control.node = node;
  if (node.VALUE && node.VALUE.length) control.set(node.VALUE[0]);
  page.controls.set(address, control);
  return control;
}

function labelled(control, text, title) {
  const wrap = document.createElement("div");
  wrap.className = "control";
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = text;
  if (title) wrap.title = title;
  wrap.append(label, control.el);
  return wrap;
}

function controlsOf(section) {
  return document.querySelector(`#sec-${section} .controls`);
}

function buildLayers(nodes) {
  const bank = $("layers");
  const resolutions = (page.state && page.state.layer_resolutions) || [];
  nodes.sort((a, b) => Number(a.FULL_PATH.split("/").pop()) - Number(b.FULL_PATH.split("/").pop()));
  for (const node of nodes) {
    const index = Number(node.FULL_PATH.split("/").pop());
    const control = makeControl(node, { vertical: true });
    const res = resolutions[index];
    bank.append(labelled(control, res ? `${index}·${res}` : String(index), node.DESCRIPTION));
  }
  const byRes = new Map();
  resolutions.forEach((res, index) => {
    const address = `/blend/layer/${index}`;
    if (!page.controls.has(address)) return;
    if (!byRes.has(res)) byRes.set(res, []);
    byRes.get(res).push(address);
  });
  const row = $("resolutions");
  for (const [res, addresses] of byRes) {
    const first = page.controls.get(addresses[0]);
    const group = new Fader({ name: `layers at ${res} px`, min: first.min, max: first.max, overblend: true,
      onInput: (value) => { for (const a of addresses) { page.controls.get(a).set(value); send(a, [["f", value]]); } } });
    group.addresses = addresses;
    page.overblend.push(group);
    page.groups.push(group);
    row.append(labelled(group, `${res} px`, `every layer at ${res} px at once`));
  }
  updateGroups();
}

function updateGroups() {
  for (const group of page.groups) {
    if (group.busy) continue;
    const values = group.addresses.map((a) => page.controls.get(a).value);
    group.set(values.reduce((s, v) => s + v, 0) / values.length);
  }
}

function buildSeed(byAddress) {
  const seed = byAddress.get("/latent/seed");
  if (!seed) return;
  const control = makeControl(seed);
  const row = document.createElement("div");
  row.className = "control seed";
  const label = document.createElement("span");
  label.className = "label";
  label.textContent = "seed";
  row.append(label);
  const prev = byAddress.get("/latent/prev_seed"), next = byAddress.get("/latent/next_seed");
  if (prev) row.append(button("latent.prev_seed", "◀", () => sendNow(prev.FULL_PATH)));
  row.append(control.el);
  if (next) row.append(button("latent.next_seed", "▶", () => sendNow(next.FULL_PATH)));
  controlsOf("latent").append(row);
}

function buildPresets(byAddress) {
  const recall = byAddress.get("/preset/recall"), save = byAddress.get("/preset/save");
  const rows = document.querySelectorAll("#sec-presets .row");
  if (recall) {
    rows[0].append(button("preset.recall", "Recall", () => {
      const name = $("preset-list").value;
      const morph = Number($("preset-morph").value);
      if (name) sendNow("/preset/recall", morph > 0 ? [["s", name], ["f", morph]] : [["s", name]]);
    }));
  }
  if (save) {
    rows[1].append(button("preset.save", "Save", () => {
      const name = $("preset-name").value.trim();
      if (name) { sendNow("/preset/save", [["s", name]]); setTimeout(pollState, 500); }
    }));
  }
}

function clearPage() {
  page.controls.clear();
  page.overblend = [];
  page.groups = [];
  for (const el of document.querySelectorAll(".controls, #layers, #resolutions, #header-actions")) el.replaceChildren();
  for (const el of document.querySelectorAll("#sec-presets .row button")) el.remove();
}

async function build() {
  const tree = await getJSON("/");
  clearPage();
  const nodes = methods(tree);
  const byAddress = new Map(nodes.map((n) => [n.FULL_PATH, n]));
  const panic = byAddress.get("/blend/panic");
  if (panic) $("header-actions").append(button("blend.panic", "PANIC", () => sendNow("/blend/panic"), "panic"));
  buildLayers(nodes.filter((n) => sectionOf(paramName(n.FULL_PATH)) === "layers"));
  buildSeed(byAddress);
  buildPresets(byAddress);
  for (const node of nodes) {
    const name = paramName(node.FULL_PATH);
    const section = sectionOf(name);
    if (section === "layers" || SPECIAL.has(node.FULL_PATH)) continue;
    const control = makeControl(node);
    if (!control) continue;
    const box = controlsOf(section);
    if (control instanceof Toggle || !(control.el.tagName === "BUTTON")) {
      box.append(labelled(control, shortLabel(name), node.DESCRIPTION));
      continue;
    }
    box.append(control.el);
  }
  $("sec-other").hidden = !controlsOf("other").children.length;
  const min = page.controls.get("/blend/safety/min"), max = page.controls.get("/blend/safety/max");
  if (min && max) setSafety(min.value, max.value);
}

function setSafety(min, max) {
  page.safety = { min, max };
  for (const fader of page.overblend) fader.setRange(min, max);
}

// ------------------------------------------------------------------ receiving
function apply(address, value) {
  if (address === "/engine/fps") { $("fps").textContent = value.toFixed(1); return; }
  if (address === "/engine/frame_ms") { $("ms").textContent = value.toFixed(1); return; }
  const control = page.controls.get(address);
  if (!control || control.busy || value === null || value === undefined) return;
  control.set(value);
  if (address === "/blend/safety/min") setSafety(value, page.safety.max ?? value);
  else if (address === "/blend/safety/max") setSafety(page.safety.min ?? value, value);
  else if (address.startsWith("/blend/layer/")) updateGroups();
}

function onMessage(event) {
  if (typeof event.data === "string") {
    let message = null;
    try { message = JSON.parse(event.data); } catch (error) { return; }
    if (message && /^PATH_/.test(message.COMMAND)) {
      clearTimeout(page.reloadTimer);
      page.reloadTimer = setTimeout(reload, 200);
    }
    return;
  }
  for (const { address, args } of decodePacket(event.data)) apply(address, args[0]);
}

async function reload() {
  try {
    await pollState();
    await build();
    if (page.ws && page.ws.readyState === WebSocket.OPEN) {
      page.ws.send(JSON.stringify({ COMMAND: "LISTEN", DATA: "/" }));
    }
  } catch (error) {
    setStatus("reload failed: " + error.message, "bad");
  }
}

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = "status " + (kind || "");
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(withToken(`${scheme}//${location.host}/`));
  ws.binaryType = "arraybuffer";
  page.ws = ws;
  ws.onopen = () => {
    page.retry = 500;
    setStatus("live", "good");
    ws.send(JSON.stringify({ COMMAND: "LISTEN", DATA: "/" }));
  };
  ws.onmessage = onMessage;
  ws.onclose = () => {
    setStatus("reconnecting…", "bad");
    page.retry = Math.min(page.retry * 2, 5000);
    setTimeout(() => { connect(); reload(); }, page.retry);
  };
}

// ------------------------------------------------------------------ state, models, preview
async function getJSON(url) {
  const response = await fetch(withToken(url), { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

async function pollState() {
  const state = await getJSON("/ui/state");
  page.state = state;
  const list = $("preset-list"), chosen = list.value;
  list.replaceChildren(...state.presets.map((p) => new Option(p, p)));
  if (state.presets.includes(chosen)) list.value = chosen;
  $("autosave").textContent = `autosave: ${state.autosave}`;
  $("models-now").textContent = `playing: ${state.models.join(", ") || "–"}`;
  const slots = $("model-slots");
  const count = Math.max(state.models.length, 2);
  if (slots.dataset.key !== JSON.stringify([count, state.model_choices])) {
    slots.dataset.key = JSON.stringify([count, state.model_choices]);
    slots.replaceChildren();
    for (let i = 0; i < count; i += 1) {
      const select = document.createElement("select");
      select.setAttribute("aria-label", `model ${String.fromCharCode(65 + i)}`);
      for (const choice of state.model_choices) select.add(new Option(choice, choice));
      if (state.model_choices.includes(state.models[i])) select.value = state.models[i];
      slots.append(select);
    }
    slots.append(button("models.swap", "Load", swapModels));
  }
  if (state.fps) $("fps").textContent = state.fps.toFixed(1);
  if (state.frame_ms) $("ms").textContent = state.frame_ms.toFixed(1);
}

async function swapModels() {
  const models = [...document.querySelectorAll("#model-slots select")].map((s) => s.value);
  const response = await fetch(withToken("/ui/models"), {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ models }),
  });
  $("models-result").textContent = response.ok ? "loading… (the show keeps playing meanwhile)" : await response.text();
}

function setupPreview() {
  const toggle = $("preview-toggle"), img = $("preview");
  let on = false, timer = 0, lastUrl = null;
  async function next() {
    timer = 0;
    if (!on || document.visibilityState !== "visible") return;
    try {
      const response = await fetch(withToken("/ui/preview.jpg"), { cache: "no-store" });
      if (response.ok) {
        const url = URL.createObjectURL(await response.blob());
        img.src = url;
        img.hidden = false;
        if (lastUrl) URL.revokeObjectURL(lastUrl);
        lastUrl = url;
      }
    } catch (error) { /* the next try comes soon */ }
    if (on && !timer) timer = setTimeout(next, 250);
  }
  toggle.addEventListener("click", () => {
    on = !on;
    toggle.setAttribute("aria-pressed", String(on));
    toggle.textContent = on ? "Preview on" : "Preview off";
    if (on) next(); else img.hidden = true;
  });
  document.addEventListener("visibilitychange", () => { if (on && document.visibilityState === "visible" && !timer) next(); });
}

async function start() {
  setupPreview();
  try {
    await pollState();
    await build();
  } catch (error) {
    setStatus("cannot reach the engine: " + error.message, "bad");
  }
  connect();
  setInterval(() => { if (document.visibilityState === "visible") pollState().catch(() => {}); }, 2000);
  document.body.dataset.ready = "true";
}

start();
