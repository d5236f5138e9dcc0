"""MIDI learn: the next control the performer moves is bound to a parameter, and the binding is
written into a mapping file atomically.

:class:`MidiLearn` watches messages (fed by :class:`~engine.control.midi_ports.MidiPorts` through its
``intercept`` hook, or by hand in tests). After the first usable message it keeps listening for
``settle`` seconds, so that a 14-bit pair (CC n and n + 32) or an NRPN sequence (CC 99/98/6/38) is
recognised as one control, then proposes a binding. :func:`write_binding` adds it to a mapping file:
appended as a new ``[[midi]]`` block when nothing clashes (comments stay), otherwise the file is
rewritten without the bindings that used the same control. The result is validated before the
atomic replace, so a bad learn never leaves a broken file.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mido

from ..errors import MappingError
from . import toml_read
from .mapping import MidiBinding, load_mapping, parse_mapping
from .mapping_rows import expand_row
from .toml_write import dumps, format_key, format_value, write_text_atomic

_IGNORED = {"clock", "start", "stop", "continue", "active_sensing", "sysex", "songpos", "reset",
            "quarter_frame", "tune_request", "song_select", "note_off", "aftertouch", "polytouch"}


class MidiLearn:
    """Learn one binding for ``param``; thread-safe (messages arrive on the MIDI thread)."""

    def __init__(self, param: str, spec=None, value_range: tuple[float, float] | None = None,
                 settle: float = 0.25, time_fn: Callable[[], float] = time.monotonic):
        self.param = param
        self.spec = spec                       # the parameter's ParamSpec, when known
        self.value_range = value_range
        self.settle = settle
        self.time_fn = time_fn
        self.port: str | None = None
        self._messages: list[mido.Message] = []
        self._first: float | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._binding: dict | None = None

    def offer(self, msg: mido.Message, port: str = "") -> bool:
        """Take one message (returns True: learn mode swallows it so nothing else moves)."""
        if msg.type in _IGNORED or (msg.type == "note_on" and msg.velocity == 0):
            return True
        with self._lock:
            if self._done.is_set():
                return True
            now = self.time_fn()
            if self._first is None:
                self._first, self.port = now, port
            if port == self.port and now - self._first <= self.settle:
                self._messages.append(msg)
        return True

    def result(self) -> dict | None:
        """The learned binding (a ``[[midi]]`` table) once the settle time has passed, else None."""
        with self._lock:
            if self._binding is None and self._first is not None and self.time_fn() - self._first > self.settle:
                self._binding = self._identify()
                self._done.set()
            return self._binding

    def wait(self, timeout: float) -> dict | None:
        """Block until a control was moved and recognised, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.result()
            if found is not None:
                return found
            time.sleep(0.02)
        return self.result()

    # ------------------------------------------------------------------ recognition
    def _identify(self) -> dict:
        first = self._messages[0]
        channel = first.channel + 1 if hasattr(first, "channel") else None
        same = [m for m in self._messages if getattr(m, "channel", None) == first.channel]
        ccs = {m.control: m.value for m in same if m.type == "control_change"}
        binding: dict = {"control": "cc", "channel": channel}
        if first.type == "note_on":
            binding.update(control="note", number=first.note)
        elif first.type == "pitchwheel":
            binding["control"] = "pitchbend"
        elif 99 in ccs or 98 in ccs:
            binding.update(control="nrpn", number=(ccs.get(99, 0) << 7) | ccs.get(98, 0))
        else:
            number = first.control
            msb = number - 32 if 32 <= number < 64 and (number - 32) in ccs else number
            if msb < 32 and msb + 32 in ccs:
                binding.update(control="cc14", number=msb)
            else:
                binding["number"] = number
        binding["param"] = self.param
        binding.update(self._shape(binding["control"]))
        return binding

    def _shape(self, control: str) -> dict:
        """Range and button behaviour from the parameter's kind."""
        kind = self.spec.kind if self.spec is not None else "float"
        is_button = control == "note" or kind in ("trigger", "bool")
        out: dict = {}
        if self.value_range is not None:
            out["range"] = [float(self.value_range[0]), float(self.value_range[1])]
        elif self.spec is not None and kind in ("float", "int", "choice"):
            lo, hi = self.spec.lo, self.spec.hi
            out["range"] = [max(lo, 0.0), min(hi, 1.0)] if kind == "float" and lo <= 0 and hi >= 1 else [lo, hi]
        if is_button and control in ("cc", "note"):
            out["button"] = {"trigger": "trigger", "bool": "toggle"}.get(kind, "momentary")
        elif kind in ("int", "choice"):
            out["takeover"] = "jump"
        return out


def write_binding(path: str | Path, binding: dict, port: str | None = None) -> Path:
    """Add ``binding`` to mapping file ``path`` (created if absent) atomically; returns the path.

    Bindings in the file that use the same control are replaced. Raises :class:`MappingError`
    if the result would not validate (the file is left as it was).
    """
    path = Path(path)
    binding = {k: v for k, v in binding.items() if v is not None}
    if not path.exists():
        document = {"device": {"name": "learned", "port": re.escape(port) if port else ".*", "verified": False,
                               "notes": "written by netblend midi learn"}, "midi": [binding]}
        text = "# Written by `netblend midi learn`; edit freely.\n" + dumps(document)
    else:
        old_text = path.read_text(encoding="utf-8")
        try:
            data = toml_read.loads(old_text)
        except (toml_read.TOMLDecodeError, toml_read.TooDeep) as e:
            raise MappingError(f"{path}: not valid TOML ({e}); fix it before learning into it") from None
        new = parse_mapping({"midi": [binding]}, path).midi[0]
        old = list(data.get("midi", []))
        kept = _without_control(old, new, path)
        block = "\n".join(f"{format_key(k)} = {format_value(v)}" for k, v in binding.items())
        appended = old_text.rstrip("\n") + "\n\n[[midi]]                       # learned\n" + block + "\n"
        if len(kept) == len(old) and _parses(appended):
            text = appended               # comments and layout stay
        else:                             # a re-bound control, or a file written as midi = [...]
            data["midi"] = kept + [binding]
            text = "# Rewritten by `netblend midi learn` (a control was re-bound).\n" + dumps(data)
    parse_mapping(toml_read.loads(text), path)        # refuse to write anything that will not load
    write_text_atomic(path, text)
    load_mapping(path)
    return path


def _without_control(tables: list, new: MidiBinding, path: Path) -> list:
    """``tables`` without the bindings that use ``new``'s control; a range row that loses one of its
    bindings is written out as its remaining bindings."""
    kept: list = []
    for raw in tables:
        rows = expand_row(raw, f"{path.name}: [[midi]]") if isinstance(raw, dict) else [raw]
        parsed = parse_mapping({"midi": rows}, path).midi
        survivors = [row for row, b in zip(rows, parsed) if not _same_control(b, new)]
        kept += [raw] if len(survivors) == len(rows) else survivors
    return kept


def _parses(text: str) -> bool:
    try:
        toml_read.loads(text)
    except (toml_read.TOMLDecodeError, toml_read.TooDeep):
        return False
    return True


def _same_control(a: MidiBinding, b: MidiBinding) -> bool:
    if a.control != b.control and not (set(a.cc_numbers()) & set(b.cc_numbers())):
        return False
    if a.channel is not None and b.channel is not None and a.channel != b.channel:
        return False
    if a.control == b.control:
        return a.number == b.number or a.control in ("pitchbend", "clock")
    return True


def learn_from_ports(ports, learner: MidiLearn, path: str | Path, timeout: float) -> dict | None:
    """Arm learn mode on running :class:`MidiPorts`, wait for a control, write it; None on timeout."""
    ports.intercept = learner.offer
    try:
        binding = learner.wait(timeout)
    finally:
        ports.intercept = None
    if binding is not None:
        write_binding(path, binding, learner.port)
    return binding
