"""The render loop: clock -> snapshot -> render -> sinks, and nothing else on the hot path.

Models are swapped at a frame boundary from a worker thread (:class:`ModelSwapper`); triggers
(panic, next seed, snapshot) fire once per press through callbacks that only write parameters or
hand work to other threads; a sink that raises is dropped and the others keep receiving.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from ..sinks.base import Frame, Sink
from .clock import Clock, FrameTime
from .params import ParamRegistry
from .render import Renderer
from .stats import FrameStats

log = logging.getLogger("netblend")


class SinkSet:
    """The open outputs. A sink that raises is closed, dropped with a warning, and the show goes on."""

    def __init__(self, sinks: Iterable[Sink] = ()):
        self.sinks: list[Sink] = list(sinks)
        self.dropped: list[tuple[Sink, str]] = []

    def open(self, width: int, height: int) -> None:
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
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as e:
                log.warning("closing output %s failed: %s", sink.name, e)


class ModelSwapper:
    """Loads a new renderer on a worker thread; the loop picks it up at a frame boundary."""

    def __init__(self) -> None:
        self._ready: queue.Queue[Renderer] = queue.Queue(maxsize=1)
        self.errors: list[str] = []
        self._thread: threading.Thread | None = None

    def request(self, build: Callable[[], Renderer]) -> threading.Thread:
        """Start building a renderer (load files, move to the device, warm up) off the render thread."""

        def work() -> None:
            try:
                renderer = build()
            except Exception as e:  # a failed load leaves the current models playing
                msg = f"model swap failed, the current models keep playing: {e}"
                log.error(msg)
                self.errors.append(msg)
                return
            try:
                self._ready.get_nowait()  # a newer request wins over an unused older one
            except queue.Empty:
                pass
            self._ready.put(renderer)

        self._thread = threading.Thread(target=work, name="netblend-model-loader", daemon=True)
        self._thread.start()
        return self._thread

    def poll(self) -> Renderer | None:
        try:
            return self._ready.get_nowait()
        except queue.Empty:
            return None


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


class RenderLoop:
    """Runs frames until stopped. ``step()`` renders exactly one frame (tests, offline render)."""

    def __init__(
        self,
        registry: ParamRegistry,
        renderer: Renderer,
        sinks: SinkSet,
        clock: Clock | None = None,
        fps: float | None = None,                    # target rate; None = as fast as possible
        triggers: dict[str, Callable[[], None]] | None = None,  # trigger name -> action
        on_frame: Callable[[FrameTime], None] | None = None,    # after each frame (control recorder, morphs)
        on_swap: Callable[[Renderer], None] | None = None,      # after a model swap (re-declare parameters)
    ):
        self.registry = registry
        self.renderer = renderer
        self.sinks = sinks
        self.clock = clock or Clock()
        self.fps = fps
        self.triggers = dict(triggers or {})
        self.on_frame = on_frame
        self.on_swap = on_swap
        self.swapper = ModelSwapper()
        self.stats = FrameStats(target_fps=fps)
        self.show_time = ShowTime()
        self._seen: dict[str, int] = registry.trigger_counts()  # presses from now on fire
        self.errors = 0
        self.last_t = 0.0                                       # clock time of the last tick
        self._reported: set[str] = set()
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def step(self) -> Frame | None:
        """One frame: tick, swap models if ready, snapshot, fire triggers, render, send.

        Returns the frame, or None when it could not render (logged; the next frame tries again)."""
        ft = self.clock.tick()
        self.last_t = ft.t
        new = self.swapper.poll()
        if new is not None:
            self.renderer = new
            if self.on_swap is not None:
                self.on_swap(new)
        snap = self.registry.snapshot(ft.dt)
        for name, count in snap.triggers.items():
            if count != self._seen.setdefault(name, count):
                self._seen[name] = count
                action = self.triggers.get(name)
                if action is not None:
                    self._guard(f"trigger {name}", action)
        show_ft = self.show_time.advance(ft, paused=snap.get("engine.pause") > 0.5)
        t0 = time.perf_counter()
        try:
            pixels = self.renderer.render(snap.values, show_ft)
        except Exception as e:  # a frame that cannot render is skipped; the window keeps the last one
            self._report("render", e)
            return None
        frame = Frame(pixels, ft.frame, show_ft.t, _readback=self.renderer.readback)
        t1 = time.perf_counter()
        self.sinks.send(frame)
        t2 = time.perf_counter()
        self.stats.record(t2 - t0, ft.t)
        if self.renderer.profile:
            self.stats.record_stages({**self.renderer.times.seconds, "sinks": t2 - t1})
        if self.on_frame is not None:
            self._guard("frame hook", partial(self.on_frame, show_ft))
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
            log.error("%s failed (the show goes on): %s", what, error)

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
