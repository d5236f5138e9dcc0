"""PNG stills: on request (the `s` key, `/engine/snapshot`) or every N frames, written off the loop."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from .base import Frame, Sink


class SnapshotSink(Sink):
    """Writes ``netblend-YYYYmmdd-HHMMSS-<frame>.png`` into ``folder`` on a writer thread."""

    name = "snapshot"

    def __init__(self, folder: str | Path = ".", every: int = 0):
        super().__init__()
        self.folder = Path(folder)
        self.every = every                       # 0 = only on request()
        self.written: list[Path] = []
        self.error: str | None = None
        self._requested = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._thread: threading.Thread | None = None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> SnapshotSink:
        return cls(arg or ".", every=int(options.get("every", 0)))

    def request(self) -> None:
        """Save the next frame that arrives."""
        self._requested.set()

    def _open(self, width: int, height: int) -> None:
        self._thread = threading.Thread(target=self._write_loop, name="netblend-snapshots", daemon=True)
        self._thread.start()

    def _send(self, frame: Frame) -> None:
        due = self.every and frame.index % self.every == 0
        if not (due or self._requested.is_set()):
            return
        self._requested.clear()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"netblend-{stamp}-{frame.index:06d}.png"
        try:
            self._queue.put_nowait((path, frame.numpy().copy()))
        except queue.Full:
            pass  # the disk is behind: skip this still rather than stall the show

    def _write_loop(self) -> None:
        from PIL import Image

        while True:
            item = self._queue.get()
            if item is None:
                return
            path, pixels = item
            try:
                self.folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:  # a bad folder loses this still, never the show
                self.error = f"cannot create {self.folder}: {e}"
                continue
            Image.fromarray(pixels, "RGBA").convert("RGB").save(path)
            self.written.append(path)

    def _close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
