"""The live preview: a sink that keeps the newest frame only when a page asks, and a small JPEG of it.

On the render thread :meth:`PreviewSink.send` costs one flag check while no page watches the preview.
When a page asks (:meth:`PreviewSink.request`, from the server thread), the next frame's host pixels
are copied into a buffer allocated once, and the server is told; the JPEG is encoded later on a worker
thread of the server, never on the render thread. A page that stops asking costs nothing.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import numpy as np

from ..sinks.base import Frame, Sink


class PreviewSink(Sink):
    """Keeps the newest frame for the control page's preview (see the module docstring)."""

    name = "preview"
    needs_host = True
    on_render_thread = True       # it copies a frame only when a page asks: cheaper than a delivery thread

    def __init__(self, max_side: int = 320, quality: int = 75):
        super().__init__()
        self.max_side = max_side
        self.quality = quality
        self._wanted = threading.Event()
        self._lock = threading.Lock()
        self._pixels: np.ndarray | None = None       # [H, W, 4] uint8, allocated at open
        self._captured = 0                           # frames captured so far (bumps on every capture)
        self._encoded: tuple[int, bytes] | None = None
        self.on_capture: Callable[[], None] | None = None   # set by the server: wakes a waiting request

    @property
    def captured(self) -> int:
        return self._captured

    # ------------------------------------------------------------------ render thread
    def _open(self, width: int, height: int) -> None:
        self._pixels = np.zeros((height, width, 4), dtype=np.uint8)

    def _send(self, frame: Frame) -> None:
        if not self._wanted.is_set():
            return
        host = frame.numpy()
        with self._lock:
            if self._pixels is None or self._pixels.shape != host.shape:
                self._pixels = np.empty_like(host)   # only after a size change, and only when watched
            np.copyto(self._pixels, host)
            self._captured += 1
        self._wanted.clear()
        callback = self.on_capture
        if callback is not None:
            callback()

    # ------------------------------------------------------------------ server side
    def request(self) -> None:
        """Ask for the next frame (called by the server when a page wants a picture)."""
        self._wanted.set()

    def jpeg(self) -> bytes | None:
        """The newest captured frame as a JPEG at most ``max_side`` pixels wide or high; None before
        the first capture. Encoded at most once per captured frame (worker thread)."""
        from PIL import Image

        with self._lock:
            if self._captured == 0 or self._pixels is None:
                return None
            if self._encoded is not None and self._encoded[0] == self._captured:
                return self._encoded[1]
            seq = self._captured
            rgb = self._pixels[:, :, :3].copy()
        image = Image.fromarray(rgb, "RGB")
        image.thumbnail((self.max_side, self.max_side), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=self.quality)
        data = out.getvalue()
        with self._lock:
            self._encoded = (seq, data)
        return data
