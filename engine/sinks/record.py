"""Video recording through PyAV (FFmpeg): mp4/mkv/mov with H.264, encoded off the render thread."""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path

from .base import Frame, Sink, SinkError

CODECS = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".webm": "libvpx-vp9"}


class RecordSink(Sink):
    """Writes frames to ``path`` at ``fps``. Live runs drop a frame when the encoder falls behind
    (``block=False``, counted in ``dropped``); offline renders wait for it (``block=True``)."""

    name = "record"

    def __init__(self, path: str | Path, fps: float = 30.0, crf: int = 18, block: bool = False,
                 queue_size: int = 8):
        super().__init__()
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self.block = block
        self.frames = 0
        self.dropped = 0
        self.error: str | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._container = None
        self._stream = None

    @classmethod
    def why_not(cls) -> str | None:
        try:
            import av  # noqa: F401
        except ImportError:
            return "PyAV is not installed: pip install 'netblend[record]'"
        return None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], fps: float = 30.0, **context) -> RecordSink:
        if not arg:
            raise SinkError("record: name the file, e.g. --sink record:show.mp4")
        return cls(arg, fps=float(options.get("fps", fps)), crf=int(options.get("crf", 18)),
                   block=options.get("block", "0") not in ("0", "false", "no"))

    def check(self) -> str:
        """The codec for this file, or :class:`SinkError` naming what is wrong; nothing is written."""
        reason = self.why_not()
        if reason is not None:
            raise SinkError(f"record: {reason}")
        codec = CODECS.get(self.path.suffix.lower())
        if codec is None:
            raise SinkError(f"record: unknown video type {self.path.suffix!r}; use one of {', '.join(CODECS)}")
        return codec

    def _open(self, width: int, height: int) -> None:
        import av

        if width % 2 or height % 2:
            raise SinkError(f"record: H.264 needs an even frame size, got {width}x{height}; use --size")
        codec = self.check()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        rate = Fraction(self.fps).limit_denominator(1001)
        stream = self._container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(self.crf)} if codec == "libx264" else {}
        stream.thread_count = 1  # deterministic output; the encoder runs on its own thread anyway
        self._stream = stream
        self._thread = threading.Thread(target=self._encode_loop, name="netblend-record", daemon=True)
        self._thread.start()

    def _send(self, frame: Frame) -> None:
        if self.error:
            raise SinkError(f"record: encoding {self.path} failed: {self.error}")
        pixels = frame.numpy().copy()
        if self.block:
            self._queue.put(pixels)
            return
        try:
            self._queue.put_nowait(pixels)
        except queue.Full:
            self.dropped += 1

    def _encode_loop(self) -> None:
        import av

        try:
            while True:
                pixels = self._queue.get()
                if pixels is None:
                    break
                vf = av.VideoFrame.from_ndarray(pixels, format="rgba")
                vf.pts = self.frames
                for packet in self._stream.encode(vf):
                    self._container.mux(packet)
                self.frames += 1
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        except Exception as e:  # reported on the next send, so the loop drops this sink
            self.error = str(e)
        finally:
            self._container.close()

    def _close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
