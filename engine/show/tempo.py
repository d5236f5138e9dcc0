"""Tempo: tap tempo, MIDI clock (24 pulses per quarter note) and, optionally, Ableton Link.

The registry's ``tempo.bpm`` is the one truth. :class:`TempoTracker` only computes tempos from
events (taps, clock pulses), each stamped with the time it was received; whoever calls it writes the
result to ``tempo.bpm``. The show copies ``tempo.bpm`` into the clock at each frame boundary, so walks
and morphs in beats follow whatever set it (tap, MIDI clock, OSC, a preset, a Link peer).

:class:`LinkSync` keeps an Ableton Link session and ``tempo.bpm`` in step both ways, without echo:
a peer's change is written to the registry, a change made here is pushed to the session. Link
announces itself on the local network the moment it is enabled, so :func:`start_link` runs only when
the user asks (``--link``); tests hand :class:`LinkSync` a replacement session with a ``tempo``.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections import deque
from dataclasses import dataclass

from ..core.clock import FrameTime
from ..core.params import ParamRegistry
from ..errors import NetblendError

MIN_BPM, MAX_BPM = 20.0, 300.0
PPQN = 24                       # MIDI clock pulses per quarter note
LINK_SOURCE = ("link",)


class TempoError(NetblendError):
    """A tempo source that cannot start (e.g. Ableton Link without the aalink package)."""


@dataclass
class TempoConfig:
    tap_reset: float = 2.0         # seconds without a tap that start a new tap sequence
    tap_window: int = 8            # taps averaged (the newest ones)
    clock_window: int = 48         # MIDI clock pulses averaged (two beats)
    clock_timeout: float = 0.5     # seconds without a pulse that mean the clock stopped


def clamp_bpm(bpm: float) -> float:
    return min(max(float(bpm), MIN_BPM), MAX_BPM)


class TempoTracker:
    """Tempo from taps and MIDI clock pulses. Every method takes the event's time (``now``, seconds
    on any one monotonic clock), so tests drive it with made-up timestamps."""

    def __init__(self, config: TempoConfig | None = None):
        self.config = config or TempoConfig()
        self._taps: deque[float] = deque(maxlen=self.config.tap_window)
        self._pulses: deque[float] = deque(maxlen=self.config.clock_window + 1)
        self.clock_bpm: float | None = None      # the MIDI clock's tempo while it runs
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ tap
    def tap(self, now: float) -> float | None:
        """One tap at time ``now``; returns the tapped BPM once two taps close enough in time exist."""
        with self._lock:
            if self._taps and now - self._taps[-1] > self.config.tap_reset:
                self._taps.clear()
            if self._taps and now <= self._taps[-1]:
                return None
            self._taps.append(now)
            if len(self._taps) < 2:
                return None
            interval = (self._taps[-1] - self._taps[0]) / (len(self._taps) - 1)
        return clamp_bpm(60.0 / interval)

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


class LinkSync:
    """A show part (``before_frame``) that keeps a Link session and ``tempo.bpm`` in step both ways.

    Once per frame: when the session's tempo differs from what it last reported, a peer changed it and
    ``tempo.bpm`` follows (source ``("link",)``); otherwise, when ``tempo.bpm`` differs from what was
    last pushed, it changed here and the session follows. Neither direction echoes the other."""

    def __init__(self, registry: ParamRegistry, session):
        self.registry = registry
        self.session = session
        self._seen: float | None = None      # the session's tempo as last read
        self._pushed: float | None = None    # tempo.bpm as last pushed (or taken from the session)

    def before_frame(self, ft: FrameTime) -> None:
        peer = link_tempo(self.session)
        if peer is not None and (self._seen is None or abs(peer - self._seen) > 1e-6):
            self._seen = peer
            self._pushed = self.registry.set("tempo.bpm", peer, LINK_SOURCE)
            return
        ours = self.registry.get("tempo.bpm")
        if self._pushed is None or abs(ours - self._pushed) > 1e-9:
            self.session.tempo = ours
            self._pushed = ours
            self._seen = link_tempo(self.session)

    def close(self) -> None:
        closer = getattr(self.session, "close", None)
        if callable(closer):
            closer()


class _LinkThread:
    """An ``aalink.Link`` session on its own asyncio loop thread; ``tempo`` reads and writes it."""

    def __init__(self, bpm: float):
        try:
            from aalink import Link  # type: ignore[import-not-found]
        except ImportError:
            raise TempoError("Ableton Link needs the aalink package; pip install 'netblend[link]'") from None
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._link = None

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            link = Link(bpm, self._loop)
            link.enabled = True
            self._link = link
            ready.set()
            self._loop.run_forever()

        threading.Thread(target=serve, name="netblend-link", daemon=True).start()
        if not ready.wait(5.0):
            raise TempoError("Ableton Link did not start; check the network interface and retry")

    def _on_loop(self, fn):
        """Run ``fn`` on the session's own loop thread and wait for it (Link state is not shared)."""
        async def call():
            return fn()
        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout=1.0)

    @property
    def tempo(self) -> float:
        return float(self._on_loop(lambda: self._link.tempo))  # type: ignore[union-attr]

    @tempo.setter
    def tempo(self, bpm: float) -> None:
        self._on_loop(lambda: setattr(self._link, "tempo", float(bpm)))

    def close(self) -> None:
        if self._link is not None:
            self._on_loop(lambda: setattr(self._link, "enabled", False))
        self._loop.call_soon_threadsafe(self._loop.stop)


def start_link(registry: ParamRegistry) -> LinkSync:
    """Join (or start) an Ableton Link session on the LAN at the show's tempo. Only on the user's
    explicit request (``--link``): it announces itself on the network."""
    return LinkSync(registry, _LinkThread(registry.get("tempo.bpm")))


def link_tempo(session) -> float | None:
    """The tempo of a Link session object, clamped to a sane range; None when it reports nonsense."""
    try:
        tempo = float(session.tempo)
    except (TypeError, ValueError, AttributeError):
        return None
    if not math.isfinite(tempo) or tempo <= 0:
        return None
    return clamp_bpm(tempo)
