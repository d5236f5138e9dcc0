"""Injected time: the loop asks a clock for ``t, dt`` (and beats) instead of reading the wall clock.

``Clock`` follows a time function (``time.perf_counter`` by default, like pyglet's
``Clock(time_function=...)``); ``FakeClock`` advances a fixed step per frame, so tests and offline
renders are deterministic and a recorded control log replays exactly. Beats integrate the tempo
(``bpm``) over time, so a tempo change never makes a walk jump.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FrameTime:
    frame: int      # frames ticked so far (0 for the first)
    t: float        # seconds since start
    dt: float       # seconds since the previous tick (0 for the first)
    beat: float     # beats since start, integrated from the tempo
    bpm: float      # tempo at this tick


class Clock:
    """Real time, from ``time_fn``. ``bpm`` may be changed at any time (tap, MIDI clock, Link)."""

    def __init__(self, time_fn: Callable[[], float] = time.perf_counter, bpm: float = 120.0):
        self._time_fn = time_fn
        self.bpm = bpm
        self._start: float | None = None
        self._last = 0.0
        self._beat = 0.0
        self._frame = -1

    def _now(self) -> float:
        return self._time_fn()

    def now(self) -> float:
        """Seconds since the first tick (0 before it). Control threads stamp events with it (a tap, a
        trigger press), so every part of a show shares one time base; the clock itself starts with
        the first frame, so a long warm-up never eats into ``--seconds``."""
        if self._start is None:
            return 0.0
        return self._now() - self._start

    def tick(self) -> FrameTime:
        if self._start is None:
            self._start = self._now()
        t = self.now()
        dt = max(t - self._last, 0.0) if self._frame >= 0 else 0.0
        self._last = t
        self._beat += dt * self.bpm / 60.0
        self._frame += 1
        return FrameTime(self._frame, t, dt, self._beat, self.bpm)

    def sleep_until(self, t: float) -> None:
        """Wait until clock time ``t`` (seconds since start); a fake clock returns at once."""
        if self._start is None:
            return
        delay = t - (self._now() - self._start)
        if delay > 0:
            time.sleep(delay)


class FakeClock(Clock):
    """Advances exactly ``1 / fps`` seconds per tick, whatever the wall clock does."""

    def __init__(self, fps: float = 30.0, bpm: float = 120.0, start: float = 0.0):
        self.fps = fps
        self._fake_now = start
        self._ticks = 0
        super().__init__(time_fn=self._fake_time, bpm=bpm)

    def _fake_time(self) -> float:
        return self._fake_now

    def tick(self) -> FrameTime:
        self._fake_now = self._ticks / self.fps
        self._ticks += 1
        return super().tick()

    def sleep_until(self, t: float) -> None:
        return None
