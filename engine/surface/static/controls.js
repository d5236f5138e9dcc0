// Controls of the page, each bound to one OSC method of the namespace. Every control's accessible name
// is its parameter name (blend.layer.3). Faders are ARIA sliders: pointer events (one finger per fader,
// several faders at once on a touch screen) and the keyboard (arrows, Page Up/Down, Home, End; Shift
// for fine steps).

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

export function paramName(address) {
  return address.replace(/^\//, "").replaceAll("/", ".");
}

function format(value, integer) {
  if (integer) return String(Math.round(value));
  const a = Math.abs(value);
  return value.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

export class Fader {
  // options: {name, min, max, integer, vertical, overblend, onInput(value)}
  constructor(options) {
    Object.assign(this, { integer: false, vertical: false, overblend: false }, options);
    this.value = this.min;
    this.held = new Set(); // pointer ids moving this fader
    this.lastKey = 0;
    const el = document.createElement("div");
    el.className = "fader" + (this.vertical ? " vertical" : "") + (this.overblend ? " overblend" : "");
    el.setAttribute("role", "slider");
    el.setAttribute("tabindex", "0");
    el.setAttribute("aria-label", this.name);
    el.setAttribute("aria-orientation", this.vertical ? "vertical" : "horizontal");
    el.innerHTML = '<div class="track"><div class="zone low"></div><div class="zone high"></div>' +
      '<div class="fill"></div><div class="thumb"></div></div><span class="readout"></span>';
    this.el = el;
    this.track = el.querySelector(".track");
    this.fill = el.querySelector(".fill");
    this.thumb = el.querySelector(".thumb");
    this.readout = el.querySelector(".readout");
    el.addEventListener("pointerdown", (e) => this.down(e));
    el.addEventListener("pointermove", (e) => this.move(e));
    el.addEventListener("pointerup", (e) => this.up(e));
    el.addEventListener("pointercancel", (e) => this.up(e));
    el.addEventListener("lostpointercapture", (e) => this.held.delete(e.pointerId));
    el.addEventListener("keydown", (e) => this.key(e));
    this.setRange(this.min, this.max);
  }

  get busy() { // the performer's hand (or a key pressed just now) wins over incoming values
    return this.held.size > 0 || performance.now() - this.lastKey < 300;
  }

  setRange(min, max) {
    this.min = min;
    this.max = Math.max(max, min + 1e-9);
    this.el.setAttribute("aria-valuemin", String(this.min));
    this.el.setAttribute("aria-valuemax", String(this.max));
    const span = this.max - this.min;
    const low = this.el.querySelector(".zone.low"), high = this.el.querySelector(".zone.high");
    const lowPart = this.overblend ? clamp((0 - this.min) / span, 0, 1) : 0;
    const highPart = this.overblend ? clamp((this.max - 1) / span, 0, 1) : 0;
    const side = this.vertical ? ["height", "bottom", "top"] : ["width", "left", "right"];
    low.style[side[0]] = `${lowPart * 100}%`; low.style[side[1]] = "0";
    high.style[side[0]] = `${highPart * 100}%`; high.style[side[2]] = "0";
    this.render();
  }

  set(value) { // from the engine: no message is sent (OSC floats are 32-bit: keep 6 digits)
    this.value = this.integer ? Math.round(value) : Number(Number(value).toPrecision(6));
    this.render();
  }

  render() {
    const span = this.max - this.min;
    const part = (clamp(this.value, this.min, this.max) - this.min) / span;
    const origin = (clamp(0, this.min, this.max) - this.min) / span;   // bipolar ranges fill from 0
    const [from, size] = [Math.min(part, origin), Math.abs(part - origin)];
    if (this.vertical) {
      Object.assign(this.fill.style, { bottom: `${from * 100}%`, height: `${size * 100}%` });
      this.thumb.style.bottom = `${part * 100}%`;
    } else {
      Object.assign(this.fill.style, { left: `${from * 100}%`, width: `${size * 100}%` });
      this.thumb.style.left = `${part * 100}%`;
    }
    const text = format(this.value, this.integer);
    this.readout.textContent = text;
    this.el.setAttribute("aria-valuenow", String(this.integer ? Math.round(this.value) : this.value));
    this.el.setAttribute("aria-valuetext", text);
    this.el.classList.toggle("outside", this.overblend && (this.value < 0 || this.value > 1));
  }

  change(value) { // from the performer: sent to the engine
    let v = clamp(value, this.min, this.max);
    v = this.integer ? Math.round(v) : Number(v.toPrecision(6));
    if (v === this.value) return;
    this.value = v;
    this.render();
    this.onInput(v);
  }

  fromPointer(e) {
    const r = this.track.getBoundingClientRect();
    const part = this.vertical ? (r.bottom - e.clientY) / r.height : (e.clientX - r.left) / r.width;
    return this.min + clamp(part, 0, 1) * (this.max - this.min);
  }

  down(e) {
    if (e.button !== undefined && e.button > 0) return;
    this.el.setPointerCapture(e.pointerId);
    this.held.add(e.pointerId);
    this.el.focus({ preventScroll: true });
    this.change(this.fromPointer(e));
    e.preventDefault();
  }

  move(e) {
    if (this.held.has(e.pointerId)) this.change(this.fromPointer(e));
  }

  up(e) {
    this.held.delete(e.pointerId);
  }

  key(e) {
    const step = this.integer ? 1 : (this.max - this.min) / (e.shiftKey ? 1000 : 100);
    const moves = {
      ArrowUp: step, ArrowRight: step, ArrowDown: -step, ArrowLeft: -step,
      PageUp: step * 10, PageDown: -step * 10,
    };
    let target;
    if (e.key in moves) target = this.value + moves[e.key];
    else if (e.key === "Home") target = this.min;
    else if (e.key === "End") target = this.max;
    else return;
    e.preventDefault();
    this.lastKey = performance.now();
    this.change(target);
  }
}

export class Toggle {
  constructor({ name, onInput }) {
    const el = document.createElement("button");
    el.type = "button";
    el.className = "toggle";
    el.setAttribute("aria-label", name);
    el.addEventListener("click", () => { this.set(!this.value); onInput(this.value); });
    Object.assign(this, { el, value: false, busy: false });
    this.set(false);
  }

  set(value) {
    this.value = Boolean(value);
    this.el.setAttribute("aria-pressed", String(this.value));
    this.el.textContent = this.value ? "on" : "off";
  }
}

export class Choice {
  constructor({ name, options, onInput }) {
    const el = document.createElement("select");
    el.setAttribute("aria-label", name);
    for (const option of options) el.add(new Option(option, option));
    el.addEventListener("change", () => onInput(el.value));
    Object.assign(this, { el, busy: false });
  }

  set(value) {
    if (document.activeElement !== this.el) this.el.value = value;
  }
}

export class NumberBox {
  constructor({ name, min, max, onInput }) {
    const el = document.createElement("input");
    el.type = "number";
    el.min = String(min); el.max = String(max); el.step = "1";
    el.setAttribute("aria-label", name);
    el.addEventListener("change", () => {
      const v = Math.round(Number(el.value));
      if (Number.isFinite(v)) onInput(clamp(v, min, max));
    });
    Object.assign(this, { el, busy: false });
  }

  get value() { return Number(this.el.value); }

  set(value) {
    if (document.activeElement !== this.el) this.el.value = String(Math.round(value));
  }
}

export function button(name, label, onClick, extraClass = "") {
  const el = document.createElement("button");
  el.type = "button";
  el.className = "trigger " + extraClass;
  el.setAttribute("aria-label", name);
  el.textContent = label;
  el.addEventListener("click", onClick);
  return el;
}
