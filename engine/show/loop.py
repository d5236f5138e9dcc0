"""The render loop: clock -> snapshot -> render -> sinks, and nothing else on the hot path.

A frame, in order::

    ft = clock.tick()
    before_frame hooks (ft)            the show's frame boundary: queued changes, swaps, morphs, tempo,
                                       a replayed control log; all on this thread, before the snapshot
    snap = registry.snapshot(ft.dt)
    after_snapshot hooks (snap, ft)    the control recorder (exactly what this frame saw)
    triggers: one call per press       panic, next seed, tap, snapshot (with the press's receipt time)
    values = transforms(snap.values)   modulation (adds to the base values; never written back)
    pixels = renderer.render(values)   -> sinks.send(frame)
    after_frame hooks (frame, ft)      progress, statistics consumers

A failing hook, trigger or render is logged once and skipped; a sink that raises is dropped and the
others keep receiving. Nothing here opens a socket or a file.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial

from ..core.clock import Clock, FrameTime
from ..core.params import ParamRegistry, Snapshot
from ..sinks.base import Frame, Sink
from .render import Renderer
from .stats import FrameStats

log = logging.getLogger("netblend")

Trigger = Callable[[float], None]                                    # called with the press's stamp
Transform = Callable[[Mapping[str, float], FrameTime], Mapping[str, float]]


class SinkSet:
    """The open outputs. A sink that raises is closed, dropped with a warning, and the show goes on."""

    def __init__(self, sinks: Iterable[Sink] = ()):
        self.sinks: list[Sink] = list(sinks)
        self.dropped: list[tuple[Sink, str]] = []
        self.size: tuple[int, int] | None = None

    def add(self, sink: Sink) -> None:
        """Add an output; opened at once when the set is already open."""
        self.sinks.append(sink)
        if self.size is not None:
            self._guard(sink, partial(sink.open, *self.size))

    def open(self, width: int, height: int) -> None:
        self.size = (width, height)
        for sink in list(self.sinks):
            self._guard(sink, partial(sink.open, width, height))

    def send(self, frame: Frame) -> None:
        for sink in list(self.sinks):
            self._guard(sink, partial(sink.send, frame))

    def _guard(self, sink: Sink, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as e:  # a failing output must never stop the show
            log.warning("output %s failed and was dropped: %s", sink.name, e)
            self.sinks.remove(sink)
            self.dropped.append((sink, str(e)))
            try:
                sink.close()
            except Exception as close_error:
                log.debug("closing %s after its failure also failed: %s", sink.name, close_error)

    def close(self) -> None:
        """Close every output; failures are logged and collected in ``dropped`` (exit status)."""
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:
                log.warning("closing output %s failed: %s", sink.name, e)
                self.dropped.append((sink, str(e)))


@dataclass
class ShowTime:
    """Frame time that stands still while paused, so a walk resumes where it stopped."""

    t: float = 0.0
    beat: float = 0.0

    def advance(self, ft: FrameTime, paused: bool) -> FrameTime:
        dt = 0.0 if paused else ft.dt
        self.t += dt
        self.beat += dt * ft.bpm / 60.0
        return FrameTime(ft.frame, self.t, dt, self.beat, ft.bpm)


@dataclass
class FrameHooks:
    """What runs around each frame besides rendering (see the module docstring for the order)."""

    before_frame: list[Callable[[FrameTime], None]] = field(default_factory=list)
    after_snapshot: list[Callable[[Snapshot, FrameTime], None]] = field(default_factory=list)
    transforms: list[Transform] = field(default_factory=list)
    after_frame: list[Callable[[Frame | None, FrameTime], None]] = field(default_factory=list)


class RenderLoop:
    """Runs frames until stopped. ``step()`` renders exactly one frame (tests, offline render)."""

    def __init__(
        self,
        registry: ParamRegistry,
        renderer: Renderer,
        sinks: SinkSet | None = None,
        clock: Clock | None = None,
        fps: float | None = None,                    # target rate; None = as fast as possible
        triggers: dict[str, Trigger] | None = None,  # trigger name -> action(stamp)
    ):
        self.registry = registry
        self.renderer = renderer
        self.sinks = sinks or SinkSet()
        self.clock = clock or Clock()
        self.fps = fps
        self.triggers: dict[str, Trigger] = dict(triggers or {})
        self.hooks = FrameHooks()
        self.stats = FrameStats(target_fps=fps)
        self.show_time = ShowTime()
        self.errors = 0
        self.last_t = 0.0                                       # clock time of the last tick
        self._reported: set[str] = set()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> Frame | None:
        """One frame. Returns it, or None when it could not render (logged; the next frame tries again)."""
        ft = self.clock.tick()
        self.last_t = ft.t
        for hook in self.hooks.before_frame:
            self._guard("frame boundary", partial(hook, ft))
        snap = self.registry.snapshot(ft.dt)
        for seen in self.hooks.after_snapshot:
            self._guard("control recorder", partial(seen, snap, ft))
        for name, stamps in snap.presses.items():
            action = self.triggers.get(name)
            if action is None:
                continue
            for stamp in stamps:
                self._guard(f"trigger {name}", partial(action, stamp))
        show_ft = self.show_time.advance(ft, paused=snap.get("engine.pause") > 0.5)
        values: Mapping[str, float] = snap.values
        for transform in self.hooks.transforms:
            values = transform(values, show_ft)
        t0 = time.perf_counter()
        try:
            pixels = self.renderer.render(values, show_ft)
        except Exception as e:  # a frame that cannot render is skipped; the window keeps the last one
            self._report("render", e)
            frame = None
        else:
            frame = Frame(pixels, ft.frame, ft.t, _readback=self.renderer.readback)   # clock time: recordings
            t1 = time.perf_counter()
            self.sinks.send(frame)
            t2 = time.perf_counter()
            self.stats.record(t2 - t0, ft.t)
            if self.renderer.profile:
                self.stats.record_stages({**self.renderer.times.seconds, "sinks": t2 - t1})
        for done in self.hooks.after_frame:
            self._guard("frame hook", partial(done, frame, show_ft))
        return frame

    def _guard(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as e:  # nothing a control or hook does may stop the show
            self._report(what, e)

    def _report(self, what: str, error: Exception) -> None:
        """Log a failure once per distinct message (a failure every frame must not flood the log)."""
        self.errors += 1
        key = f"{what}: {error}"
        if key not in self._reported and len(self._reported) < 100:
            self._reported.add(key)
            log.error("%s failed (the show goes on): %s", what, error or type(error).__name__)

    def run(self, seconds: float | None = None, frames: int | None = None) -> FrameStats:
        """Render until ``stop()``, ``seconds`` of clock time or ``frames`` frames; returns the stats."""
        self.sinks.open(self.renderer.width, self.renderer.height)
        self._stop.clear()
        n = 0
        while not self._stop.is_set():
            self.step()
            n += 1
            period = 1.0 / self.fps if self.fps else 0.0
            if frames is not None and n >= frames:
                break
            if seconds is not None and self.last_t + period >= seconds - 1e-9:
                break
            if self.fps:
                self.clock.sleep_until(self.last_t + period)
        return self.stats
