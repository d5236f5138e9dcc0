"""Model swaps: load new models on one worker thread; the render loop switches at a frame boundary.

- At most one load runs at a time. A request made while another loads waits in a single slot, and a
  newer request replaces it (ten recalls in 200 ms load at most two sets of models, not ten).
- The newest request wins: a build that finishes after a newer request was made is thrown away,
  however fast the newer one was.
- What a swap changes besides the renderer (the model paths, the keyframes) travels with the result
  and is applied by the loop at the switch, never on the loader thread.
- A failed build (missing file, incompatible pair, a model that cannot render a test frame) leaves
  the current models playing and is logged naming the files.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("netblend")


@dataclass
class SwapResult:
    """A renderer ready to take over, and what the show records with it."""

    renderer: Any
    paths: list[Path]
    keyframes: list = field(default_factory=list)
    generation: int = 0


class ModelSwapper:
    """Builds renderers off the render thread, newest request first; ``poll()`` on the render thread."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._pending: tuple[int, Callable[[], SwapResult], str] | None = None
        self._ready: SwapResult | None = None
        self._generation = 0                  # of the newest request
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []

    def request(self, build: Callable[[], SwapResult], label: str = "") -> int:
        """Queue a build (load files, move to the device, render a test frame); returns its generation."""
        with self._lock:
            self._generation += 1
            self._pending = (self._generation, build, label)
            self._ready = None                 # an older, unused result is no longer wanted
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="netblend-model-loader", daemon=True)
                self._thread.start()
            self._lock.notify_all()
            return self._generation

    def poll(self) -> SwapResult | None:
        """The newest finished build, once (None when there is none)."""
        with self._lock:
            ready, self._ready = self._ready, None
        return ready

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is loading or queued (tests, ``--preset`` at start-up)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending is None and not self._busy, timeout)

    @property
    def loading(self) -> bool:
        with self._lock:
            return self._busy or self._pending is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pending = None
            self._lock.notify_all()

    def _work(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                assert self._pending is not None
                generation, build, label = self._pending
                self._pending, self._busy = None, True
            try:
                result = build()
            except Exception as e:  # a failed load leaves the current models playing
                msg = f"model swap to {label or 'new models'} failed, the current models keep playing: {e}"
                log.error("%s", msg)
                self.errors.append(msg)
                result = None
            with self._lock:
                self._busy = False
                if result is not None and generation == self._generation:
                    result.generation = generation
                    self._ready = result
                elif result is not None:
                    log.info("dropped an older model load (%s): a newer swap was requested", label)
                self._lock.notify_all()


def describe(paths: Sequence[str | Path]) -> str:
    """``a.pkl + b.pkl`` (file names) for messages."""
    return " + ".join(Path(p).name for p in paths) or "the demo pair"
