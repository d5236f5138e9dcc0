"""PNG stills: on request (the `s` key, `/engine/snapshot`) or every N frames, written off the loop.

Requests are rate-limited (``rate`` per second, default 2: a held button or an OSC sender that repeats
``/engine/snapshot`` every frame writes two stills a second, not sixty) and the folder has a disk
budget (``budget`` MB of ``netblend-*.png``, default 2048): past it, no more stills are written and
the show says so once. Each still is written whole or not at all (a temporary name, then a rename).
A still that cannot be written (a full disk) is logged, counted in ``lost`` and reported at exit;
the sink keeps going, so the next still is written once there is room again.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from pathlib import Path
from types import MappingProxyType

from .base import Frame, Sink, option_number
from .files import check_folder, write_whole

log = logging.getLogger("netblend")

PATTERN = "netblend-*.png"


class SnapshotSink(Sink):
    """Writes ``netblend-YYYYmmdd-HHMMSS-<frame>.png`` into ``folder`` on its delivery thread."""

    name = "snapshot"
    waiting_frames = 4
    OPTIONS = MappingProxyType({
        "every": "also save every N-th frame (default 0: only on request)",
        "rate": "requested stills per second at most (default 2)",
        "budget": "MB of netblend-*.png the folder may hold before stills stop (default 2048)",
    })

    def __init__(self, folder: str | Path = ".", every: int = 0, rate: float = 2.0, budget_mb: float = 2048.0):
        super().__init__()
        self.folder = Path(folder)
        self.every = every                       # 0 = only on request()
        self.min_interval = 1.0 / rate if rate > 0 else 0.0
        self.budget = int(budget_mb * 1024 * 1024)
        self.written: deque[Path] = deque(maxlen=1000)
        self.used = 0                            # bytes of stills in the folder (scanned at open, then counted)
        self.lost = 0                            # stills that could not be written
        self.refused = 0                         # requests ignored by the rate limit or the budget
        self._requested = threading.Event()
        self._last_request = -float("inf")
        self._over_budget_said = False

    @property
    def label(self) -> str:
        return f"snapshot {self.folder}"

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> SnapshotSink:
        return cls(arg or ".", every=option_number("snapshot", options, "every", 0, integer=True, low=0),
                   rate=option_number("snapshot", options, "rate", 2.0, low=0),
                   budget_mb=option_number("snapshot", options, "budget", 2048.0, low=1))

    def check(self) -> None:
        check_folder(self.folder, f"snapshot {self.folder}")

    def request(self) -> bool:
        """Save the next frame that arrives; False when the rate limit ignores this request."""
        now = time.monotonic()
        if now - self._last_request < self.min_interval:
            self.refused += 1
            return False
        self._last_request = now
        self._requested.set()
        return True

    def _open(self, width: int, height: int) -> None:
        try:
            self.used = sum(p.stat().st_size for p in self.folder.glob(PATTERN))
        except OSError:
            self.used = 0

    def _wants(self, frame: Frame) -> bool:
        due = bool(self.every) and frame.index % self.every == 0
        if not (due or self._requested.is_set()):
            return False
        self._requested.clear()
        if self.used >= self.budget:
            self.refused += 1
            if not self._over_budget_said:
                self._over_budget_said = True
                self.failure = (f"the folder holds {self.used / 2**20:.0f} MB of stills, its budget; no more are "
                                f"written (raise it with snapshot:{self.folder},budget=MB or clear the folder)")
                log.warning("%s: %s", self.label, self.failure)
            return False
        return True

    def _send(self, frame: Frame) -> None:
        """Delivery thread: encode and write one still; a failure loses this still, never the sink."""
        from PIL import Image

        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = self.folder / f"netblend-{stamp}-{frame.index:06d}.png"
        encoded = io.BytesIO()
        Image.fromarray(frame.numpy()[..., :3], "RGB").save(encoded, format="PNG")
        data = encoded.getvalue()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_whole(path, data)
        except OSError as e:
            self.lost += 1
            self.failure = f"{self.lost} still(s) could not be written to {self.folder} ({e.strerror or e})"
            if self.lost == 1 or self.lost % 100 == 0:
                log.error("%s: %s", self.label, self.failure)
            return
        self.used += len(data)
        self.written.append(path)
