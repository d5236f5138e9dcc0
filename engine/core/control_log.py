"""Control logs: every parameter change of a live show, timestamped, so ``netblend render`` can
replay the performance frame for frame.

A log is JSON lines: ``{"t": 1.25, "name": "blend.layer.3", "value": 0.7}`` for a value and
``{"t": 2.0, "name": "latent.next_seed", "trigger": 1}`` for a press. ``t`` is show time in seconds
(paused time does not count). The recorder diffs the registry at each frame boundary and hands
lines to a writer thread, so the loop never touches the disk.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

from ..errors import NetblendError
from .clock import FrameTime
from .params import ParamRegistry


class ControlRecorder:
    """Call once per frame (``recorder(frame_time)``); ``close()`` flushes the file."""

    def __init__(self, registry: ParamRegistry, path: str | Path):
        self.registry = registry
        self.path = Path(path)
        self._file = self.path.open("w", encoding="utf-8")
        self._last: dict[str, float] = {}
        self._presses: dict[str, int] = {}
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="netblend-control-log", daemon=True)
        self._thread.start()

    def __call__(self, ft: FrameTime) -> None:
        lines = []
        for name, value in self.registry.targets().items():
            if self._last.get(name) != value:
                self._last[name] = value
                lines.append({"t": round(ft.t, 6), "name": name, "value": value})
        for name, count in self.registry.trigger_counts().items():
            seen = self._presses.setdefault(name, count)
            if count != seen:
                lines += [{"t": round(ft.t, 6), "name": name, "trigger": 1}] * (count - seen)
                self._presses[name] = count
        if lines:
            self._queue.put(lines)

    def _write_loop(self) -> None:
        while True:
            lines = self._queue.get()
            if lines is None:
                break
            self._file.write("".join(json.dumps(line) + "\n" for line in lines))
            self._file.flush()
        self._file.close()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)


@dataclass(frozen=True)
class ControlEvent:
    t: float
    name: str
    value: float | None          # None for a trigger press


def read_control_log(path: str | Path) -> list[ControlEvent]:
    """Parse a control log; a bad line is a clear error naming the file and line."""
    events = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise NetblendError(f"control log {path}: {e.strerror}; record one with netblend run --record-controls") from e
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            value = None if item.get("trigger") else float(item["value"])
            events.append(ControlEvent(float(item["t"]), str(item["name"]), value))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NetblendError(f"control log {path}, line {n}: not a control event ({line[:60]!r})") from None
    return sorted(events, key=lambda e: e.t)


class ControlReplay:
    """Applies logged events whose time has come; call ``replay(t)`` before each frame."""

    def __init__(self, registry: ParamRegistry, events: list[ControlEvent]):
        self.registry = registry
        self.events = events
        self._next = 0
        self.skipped: set[str] = set()

    def __call__(self, t: float) -> None:
        while self._next < len(self.events) and self.events[self._next].t <= t + 1e-9:
            event = self.events[self._next]
            self._next += 1
            if event.name not in self.registry:
                self.skipped.add(event.name)
                continue
            self.registry.set(event.name, 1.0 if event.value is None else event.value, source="replay")
