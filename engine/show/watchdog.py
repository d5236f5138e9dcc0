"""A watchdog for installations: restart the engine when it stalls or crashes.

``netblend run --watchdog S ...`` does not render itself: it runs the same command as a child process
(with ``--resume`` from the first restart on, so the show comes back as it was) and watches a
heartbeat file the child touches once a second while frames are rendering. No heartbeat for ``S``
seconds (a hung driver, a deadlock, a render that never returns) or a crash: the child is stopped
(SIGTERM, then SIGKILL) and started again, with a growing pause between quick repeated failures.
A child that exits normally (``--seconds``, Esc, Ctrl-C) ends the watchdog too.

The heartbeat is written by a thread of the child (:class:`Heartbeat`), never by the render loop.
Works the same on Linux, macOS and Windows; docs/installations.md has a systemd unit and a Windows
Task Scheduler task that start it at boot.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("netblend")

START_GRACE = 600.0          # seconds a (re)started engine may take to load models and render a frame


class Heartbeat:
    """A show part: touches ``path`` (writing the process id) every ``interval`` s while frames render."""

    def __init__(self, show, path: str | Path, interval: float = 1.0):
        self.show = show
        self.path = Path(path)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="netblend-heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = -1
        while not self._stop.wait(self.interval):
            frames = self.show.loop.stats.frames
            if frames != seen:
                seen = frames
                try:
                    self.path.write_text(f"{os.getpid()} {frames}\n")
                except OSError as e:  # the watchdog will notice the silence; nothing else to do
                    log.warning("heartbeat %s not written: %s", self.path, e)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)


def child_command(argv: Sequence[str], heartbeat: Path, resume: bool) -> list[str]:
    """The engine's own command line, minus ``--watchdog``, plus the heartbeat (and ``--resume``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--watchdog":
            skip = True
            continue
        if arg.startswith("--watchdog="):
            continue
        out.append(arg)
    if resume and "--resume" not in out:
        out.append("--resume")
    return [sys.executable, "-m", "engine", *out, "--heartbeat", str(heartbeat)]


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=5.0)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=10.0)


def supervise(argv: Sequence[str], timeout: float, heartbeat: Path, grace: float = START_GRACE) -> int:
    """Run ``netblend <argv>`` and keep it running (see the module docstring). Returns its final status."""
    stopping = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    restarts, pause = 0, 1.0
    try:
        while True:
            heartbeat.unlink(missing_ok=True)
            child = subprocess.Popen(child_command(argv, heartbeat, resume=restarts > 0))
            started = time.monotonic()
            beat = None
            try:
                while child.poll() is None and not stopping.is_set():
                    time.sleep(0.25)
                    try:
                        beat = heartbeat.stat().st_mtime
                    except OSError:
                        pass
                    silent = time.time() - beat if beat is not None else time.monotonic() - started
                    if silent > (timeout if beat is not None else grace):
                        print(f"netblend watchdog: no frame for {silent:.0f} s; restarting the engine",
                              file=sys.stderr, flush=True)
                        break
            except KeyboardInterrupt:
                stopping.set()
            _stop(child)
            if stopping.is_set() or child.returncode == 0:
                return 0
            if beat is None and child.returncode not in (None, -signal.SIGKILL, -signal.SIGTERM):
                return child.returncode or 1        # it never played: a start-up error, not a stall
            restarts += 1
            print(f"netblend watchdog: restart {restarts} (exit status {child.returncode})", file=sys.stderr,
                  flush=True)
            if time.monotonic() - started < 60:
                time.sleep(pause)
                pause = min(pause * 2, 30.0)
            else:
                pause = 1.0
    finally:
        signal.signal(signal.SIGTERM, previous)
        heartbeat.unlink(missing_ok=True)
