"""Control logs: what drove a live show, frame by frame, so ``netblend render --controls LOG`` replays
the performance through the same :class:`~engine.show.show.Show` and gets the same frames.

The log holds the show's *inputs*, never what the show derives from them (morph steps, the seed a
``next_seed`` press chose, a tapped tempo): replaying the inputs into the same show code derives the
same values again. A log is JSON lines:

- ``{"event": "init", "params": {...}, "models": [...], "keyframes": [...]}``: the state at the start;
- ``{"t": 1.25, "frame": 37, "stamp": 1.2481, "name": "blend.layer.3", "value": 0.7}``: a write from
  outside the show (OSC, MIDI, the page, Link, audio), in the first frame that saw it;
- ``{"t": ..., "frame": ..., "stamp": ..., "name": "latent.next_seed", "press": 1}``: a trigger press,
  stamped with its receipt time (tap tempo computes from those stamps);
- ``{"t": ..., "frame": ..., "stamp": ..., "event": "recall", "preset": {...}, "morph": 2.0, "unit": "beats"}``
  and ``{"event": "swap", "models": [...], "keyframes": [...]}``: what the show applied at that frame
  boundary (the preset's content is inlined, so the replay does not depend on the file).

``t`` is clock time (seconds since the show started; paused time included), ``stamp`` orders the
items of one frame as they happened. The recorder takes each frame's writes from the snapshot
(``ParamRegistry.record_writes``), so what is logged for a frame is exactly what that frame saw; a
writer thread does the file I/O, never the render loop.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.clock import FrameTime
from ..core.params import ParamRegistry, Snapshot, from_show
from ..errors import NetblendError

LOG_VERSION = 2
def _source_label(source: object) -> str:
    return str(source[0]) if isinstance(source, tuple) and source else str(source)


class ControlRecorder:
    """A show part: logs the inputs of every frame to ``path`` (``close()`` flushes the file)."""

    def __init__(self, registry: ParamRegistry, path: str | Path, initial: Mapping[str, Any] | None = None):
        self.registry = registry
        self.path = Path(path)
        try:
            self._file = self.path.open("w", encoding="utf-8")
        except OSError as e:
            raise NetblendError(f"--record-controls {path}: cannot write ({e.strerror or e})") from None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="netblend-control-log", daemon=True)
        self._thread.start()
        registry.record_writes(True)
        state = dict(initial or {})
        values = registry.targets()
        state["params"] = {n: values[n] for n in registry.names() if registry.spec(n).kind != "trigger"}
        self._queue.put([{"event": "init", "version": LOG_VERSION, **state}])

    def after_snapshot(self, snap: Snapshot, ft: FrameTime) -> None:
        lines = []
        for w in snap.writes:
            if from_show(w.source):     # derived by the show (morph, trigger, tap): replay derives it again
                continue
            item: dict[str, Any] = {"t": round(ft.t, 6), "frame": ft.frame, "stamp": round(w.stamp, 6),
                                    "name": w.name, "source": _source_label(w.source)}
            if self.registry.spec(w.name).kind == "trigger":
                item["press"] = 1
            else:
                item["value"] = w.value
            lines.append(item)
        if lines:
            self._queue.put(lines)

    def event(self, ft: FrameTime, stamp: float, kind: str, payload: Mapping[str, Any]) -> None:
        """Log something the show applied at this frame boundary (``recall``, ``swap``)."""
        self._queue.put([{"t": round(ft.t, 6), "frame": ft.frame, "stamp": round(stamp, 6), "event": kind,
                          **payload}])

    def _write_loop(self) -> None:
        while True:
            lines = self._queue.get()
            if lines is None:
                break
            self._file.write("".join(json.dumps(line) + "\n" for line in lines))
            self._file.flush()
        self._file.close()

    def close(self) -> None:
        self.registry.record_writes(False)
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)


@dataclass(frozen=True)
class ControlEvent:
    t: float
    name: str = ""
    value: float | None = None             # None for a trigger press or a show event
    stamp: float = 0.0
    event: str = ""                        # "", "init", "recall", "swap"
    payload: Mapping[str, Any] = field(default_factory=dict)


def _parse(item: dict) -> ControlEvent:
    if "event" in item:
        payload = {k: v for k, v in item.items() if k not in ("t", "frame", "stamp", "event")}
        return ControlEvent(float(item.get("t", 0.0)), stamp=float(item.get("stamp", 0.0)),
                            event=str(item["event"]), payload=payload)
    press = item.get("press") or item.get("trigger")
    t = float(item["t"])
    return ControlEvent(t, str(item["name"]), None if press else float(item["value"]),
                        float(item.get("stamp", t)))


def read_control_log(path: str | Path) -> list[ControlEvent]:
    """Parse a control log; a bad line is a clear error naming the file and line."""
    events = []
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise NetblendError(f"control log {path}: {e.strerror}; record one with netblend run --record-controls") from e
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(_parse(json.loads(line)))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NetblendError(f"control log {path}, line {n}: not a control event ({line[:60]!r})") from None
    return sorted(events, key=lambda e: (e.t, e.stamp))


def initial_state(events: Iterable[ControlEvent]) -> Mapping[str, Any]:
    """The ``init`` event's payload (params, models, keyframes), or an empty mapping for old logs."""
    return next((e.payload for e in events if e.event == "init"), {})


class ControlReplay:
    """A show part (``before_frame``): applies the logged inputs whose frame has come, in order."""

    def __init__(self, show, events: list[ControlEvent]):
        self.show = show
        self.events = [e for e in events if e.event != "init"]
        self._next = 0
        self.skipped: set[str] = set()

    def before_frame(self, ft: FrameTime) -> None:
        registry = self.show.registry
        while self._next < len(self.events) and self.events[self._next].t <= ft.t + 1e-9:
            e = self.events[self._next]
            self._next += 1
            if e.event:
                self.show.replay_event(e.event, e.payload, ft)
            elif e.name not in registry:
                self.skipped.add(e.name)
            else:
                registry.set(e.name, 1.0 if e.value is None else e.value, source=("replay",), stamp=e.stamp)
