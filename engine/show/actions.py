"""What OSC addresses, MIDI buttons, window keys and the control page can do besides writing a value.

Every action returns at once: presses become registry trigger writes (fired by the loop, once per
press, stamped on receipt); preset reads and saves run on one :class:`ControlWorker` thread, never on
the OSC or MIDI thread, and a recall is applied by the show at the next frame boundary. Over these
paths a preset is a *name* in the presets folders, never a file path.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..control.actions import Actions
from .preset_file import check_name

if TYPE_CHECKING:
    from .show import Show

log = logging.getLogger("netblend")
ACTION_SOURCE = ("action",)


class ControlWorker:
    """One background thread for the slow part of control actions (file reads, saves).

    Jobs run in order; at most ``limit`` wait (a flood of recalls drops the excess with one warning
    instead of growing without bound)."""

    def __init__(self, limit: int = 32):
        self._jobs: queue.Queue[tuple[str, Callable[[], object]] | None] = queue.Queue(maxsize=limit)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._running = 0
        self.dropped = 0

    def submit(self, what: str, job: Callable[[], object]) -> bool:
        """Queue ``job``; False (and a warning the first time) when the queue is full."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="netblend-control-worker", daemon=True)
                self._thread.start()
            try:
                self._jobs.put_nowait((what, job))
            except queue.Full:
                self.dropped += 1
                if self.dropped == 1:
                    log.warning("too many control actions at once; %s and later ones were dropped", what)
                return False
            self._running += 1
        return True

    def wait_idle(self, timeout: float | None = 10.0) -> bool:
        """Block until every queued job has run (tests, start-up)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def _work(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            what, job = item
            try:
                job()
            except Exception as e:  # a bad preset name or a full disk must not stop anything
                log.warning("%s failed: %s", what, e)
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._jobs.put(None)
            thread.join(timeout=5.0)


class ShowActions(Actions):
    """The :class:`~engine.control.actions.Actions` of a running show."""

    def __init__(self, show: Show):
        self.show = show

    def recall_preset(self, name: str, morph: float | None = None) -> None:
        try:
            check_name(name)
        except Exception as e:
            log.warning("preset %r not recalled: %s", name, e)
            return
        self.show.worker.submit(f"recalling preset {name!r}", lambda: self.show.recall(name, morph))

    def save_preset(self, name: str) -> None:
        def save() -> None:
            path = self.show.presets.save(name)
            log.info("saved preset %s", path)

        self.show.worker.submit(f"saving preset {name!r}", save)

    def tap_tempo(self) -> None:
        self.show.registry.set("tempo.tap", 1.0, source=ACTION_SOURCE)

    def panic(self) -> None:
        self.show.registry.set("blend.panic", 1.0, source=ACTION_SOURCE)

    def learn_midi(self, param: str) -> None:
        if self.show.midi is None:
            log.warning("MIDI learn needs an open controller: start with --mapping FILE or --midi-port REGEX")
        else:
            self.show.midi.learn(param)
