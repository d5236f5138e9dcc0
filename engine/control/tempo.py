"""Tempo: tap tempo, MIDI clock (24 pulses per quarter note) and, optionally, Ableton Link.

:class:`TempoTracker` holds the current BPM; the engine copies ``tracker.bpm`` into
``engine.core.clock.Clock.bpm`` (or passes ``on_change``), so walks and morphs can run in beats.
Every method takes the time as an argument (``now``), so tests drive it with made-up timestamps.

Ableton Link (the ``aalink`` package, extra ``link``) announces itself on the local network the
moment it is enabled, so it only starts when the user asks for it (:meth:`TempoTracker.start_link`);
tests hand in a replacement session object with a ``tempo`` attribute instead.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import NetblendError

MIN_BPM, MAX_BPM = 20.0, 300.0
PPQN = 24                       # MIDI clock pulses per quarter note


class TempoError(NetblendError):
    """A tempo source that cannot start (e.g. Ableton Link without the aalink package)."""


@dataclass
class TempoConfig:
    bpm: float = 120.0             # starting tempo
    tap_reset: float = 2.0         # seconds without a tap that start a new tap sequence
    tap_window: int = 8            # taps averaged (the newest ones)
    clock_window: int = 48         # MIDI clock pulses averaged (two beats)
    clock_timeout: float = 0.5     # seconds without a pulse that mean the clock stopped


def clamp_bpm(bpm: float) -> float:
    return min(max(float(bpm), MIN_BPM), MAX_BPM)


class TempoTracker:
    """The live tempo from tap, MIDI clock or Link; the newest source to speak wins."""

    def __init__(self, config: TempoConfig | None = None, on_change: Callable[[float], None] | None = None):
        self.config = config or TempoConfig()
        self.on_change = on_change
        self.source = "manual"
        self._bpm = clamp_bpm(self.config.bpm)
        self._taps: deque[float] = deque(maxlen=self.config.tap_window)
        self._pulses: deque[float] = deque(maxlen=self.config.clock_window + 1)
        self.clock_bpm: float | None = None      # the MIDI clock's tempo while it runs
        self._link = None
        self._lock = threading.Lock()

    @property
    def bpm(self) -> float:
        """The current tempo (what ``Clock.bpm`` should be)."""
        if self._link is not None:
            tempo = link_tempo(self._link)
            if tempo is not None:
                self._take(tempo, "link")
        return self._bpm

    def set_bpm(self, bpm: float, source: str = "manual") -> float:
        """Set the tempo directly (``tempo.bpm`` from OSC/MIDI/preset); Link peers follow."""
        self._take(bpm, source)
        if self._link is not None:
            self._link.tempo = self._bpm
        return self._bpm

    # ------------------------------------------------------------------ tap
    def tap(self, now: float) -> float | None:
        """One tap at time ``now``; returns the new BPM once two taps close enough in time exist."""
        with self._lock:
            if self._taps and now - self._taps[-1] > self.config.tap_reset:
                self._taps.clear()
            if self._taps and now <= self._taps[-1]:
                return None
            self._taps.append(now)
            if len(self._taps) < 2:
                return None
            interval = (self._taps[-1] - self._taps[0]) / (len(self._taps) - 1)
        return self.set_bpm(60.0 / interval, "tap")

    # ------------------------------------------------------------------ MIDI clock
    def midi_clock(self, now: float) -> float | None:
        """One clock pulse (0xF8) at ``now``; returns the smoothed clock tempo once a few pulses arrived."""
        with self._lock:
            if self._pulses and now - self._pulses[-1] > self.config.clock_timeout:
                self._pulses.clear()
            self._pulses.append(now)
            if len(self._pulses) < 7:
                return None
            span = self._pulses[-1] - self._pulses[0]
            if span <= 0:
                return None
            bpm = 60.0 * (len(self._pulses) - 1) / (span * PPQN)
        self.clock_bpm = clamp_bpm(bpm)
        if self.source != "clock" or abs(self.clock_bpm - self._bpm) >= 0.01:
            self.set_bpm(self.clock_bpm, "clock")
        return self.clock_bpm

    def midi_start(self, now: float) -> None:
        """Start/continue (0xFA/0xFB): pulses restart from here."""
        with self._lock:
            self._pulses.clear()

    def midi_stop(self, now: float) -> None:
        """Stop (0xFC): the tempo stays; the next pulses start a new measurement."""
        with self._lock:
            self._pulses.clear()
        self.clock_bpm = None

    # ------------------------------------------------------------------ Ableton Link
    def attach_link(self, session) -> None:
        """Follow a Link session object (anything with a read/write ``tempo``), e.g. ``aalink.Link``."""
        self._link = session
        self.bpm  # noqa: B018 - reads the session's tempo now

    def start_link(self) -> None:
        """Join (or start) an Ableton Link session on the LAN. Only on the user's explicit request."""
        try:
            from aalink import Link  # type: ignore[import-not-found]
        except ImportError:
            raise TempoError("Ableton Link needs the aalink package; pip install 'netblend[link]'") from None
        ready = threading.Event()
        holder: dict = {}

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            link = Link(self._bpm, loop)
            link.enabled = True
            holder["link"] = link
            ready.set()
            loop.run_forever()

        threading.Thread(target=serve, name="netblend-link", daemon=True).start()
        ready.wait(5.0)
        if "link" not in holder:
            raise TempoError("Ableton Link did not start; check the network interface and retry")
        self.attach_link(holder["link"])

    # ------------------------------------------------------------------ internals
    def _take(self, bpm: float, source: str) -> None:
        bpm = clamp_bpm(bpm)
        changed = abs(bpm - self._bpm) > 1e-9
        self._bpm, self.source = bpm, source
        if changed and self.on_change is not None:
            self.on_change(bpm)


def link_tempo(session) -> float | None:
    """The tempo of a Link session object, clamped to a sane range; None when it reports nonsense."""
    try:
        tempo = float(session.tempo)
    except (TypeError, ValueError, AttributeError):
        return None
    if not math.isfinite(tempo) or tempo <= 0:
        return None
    return clamp_bpm(tempo)
