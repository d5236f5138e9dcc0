"""Video recording through PyAV (FFmpeg), encoded on the sink's own delivery thread.

**Timing.** The file has a constant frame rate (``fps``: the show's ``--fps``, else 30) and follows the
show clock (``Frame.t``), like a screen would: output frame ``k`` (at ``k / fps`` seconds after the
first frame) shows the newest show frame rendered by then. A 7 fps show recorded at 30 fps shows each
image about four times; of two show frames within one output frame the newer one wins (``skipped``
counts the other). The last image is held as long as the one before it, so a 10 s show is a 10 s file
that lines up with the music, however fast the show renders. An offline ``netblend render`` runs on a
fake clock at exactly the output rate: one output frame per show frame, the same bytes every run.

**Failures.** :meth:`RecordSink.check` tries everything it can before the show (container, codec, a
writable folder) and writes nothing. While recording, the file is ``NAME.partial`` next to the target;
it is renamed to ``NAME`` once closed, so the target is never half-written. An encoder or disk error
is logged at once, the file is closed properly with every frame before the error and renamed, and
the sink reports the failure at the next frame (the show drops it) and at exit (non-zero status).
"""

from __future__ import annotations

import io
import logging
import math
import os
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .base import Frame, Sink, SinkError, option_flag, option_number
from .files import check_folder

log = logging.getLogger("netblend")

# file suffix -> (FFmpeg container, default codec)
FORMATS = {
    ".mp4": ("mp4", "libx264"),
    ".mov": ("mov", "libx264"),
    ".mkv": ("matroska", "libx264"),
    ".webm": ("webm", "libvpx-vp9"),
}
PARTIAL = ".partial"


class RecordSink(Sink):
    """Writes the show to ``path``. Live runs drop a frame when the encoder falls behind (counted in
    ``dropped``; the clock keeps the timing); offline renders (``block=True``) wait for it."""

    name = "record"
    waiting_frames = 8        # absorbs an encoder's hiccup (a keyframe) before frames are dropped
    OPTIONS = MappingProxyType({
        "fps": "frame rate of the file (default: the show's --fps, else 30)",
        "crf": "H.264 quality, 0 (lossless) to 51 (default 18)",
        "codec": "FFmpeg encoder, e.g. libx264, libx265, prores_ks (default: per container)",
        "block": "wait for the encoder instead of dropping frames (offline renders)",
    })

    def __init__(self, path: str | Path, fps: float = 30.0, crf: int = 18, block: bool = False,
                 codec: str | None = None):
        super().__init__()
        self.path = Path(path)
        self.fps = fps
        self.crf = crf
        self.codec = codec
        self.lossless = block
        self.frames = 0                  # output frames in the file (held images included)
        self.shown = 0                   # show frames that made it into the file
        self.skipped = 0                 # show frames replaced by a newer one within the same output frame
        self._container: Any = None
        self._stream: Any = None
        self._t0: float | None = None
        self._t_last = 0.0
        self._t_prev: float | None = None
        self._pending: Any = None             # (image, output frame, show frame index) not encoded yet
        self._received = 0
        self._next_pts = 0

    @property
    def label(self) -> str:
        return f"record {self.path}"

    @property
    def partial_path(self) -> Path:
        return self.path.with_name(self.path.name + PARTIAL)

    @classmethod
    def why_not(cls) -> str | None:
        try:
            import av  # noqa: F401
        except ImportError:
            return "PyAV is not installed: pip install 'netblend[record]'"
        return None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], fps: float | None = None,
                  **context) -> RecordSink:
        if not arg:
            raise SinkError("record: name the file, e.g. --sink record:show.mp4")
        return cls(arg, fps=option_number("record", options, "fps", fps or 30.0, low=1, high=240),
                   crf=option_number("record", options, "crf", 18, integer=True, low=0, high=63),
                   block=option_flag("record", options, "block"), codec=options.get("codec") or None)

    # ------------------------------------------------------------------ before the show
    def check(self) -> None:
        """Raise :class:`SinkError` naming what is wrong: an unknown container, a codec this PyAV lacks
        or the container refuses, a folder that cannot be written. Nothing is written."""
        self.container_and_codec()

    def container_and_codec(self) -> tuple[str, str]:
        """``(container, codec)`` for this file, checked as :meth:`check` says."""
        import av

        reason = self.why_not()
        if reason is not None:
            raise SinkError(f"record: {reason}")
        suffix = self.path.suffix.lower()
        if suffix not in FORMATS:
            raise SinkError(f"record {self.path}: unknown video type {suffix or '(none)'!r}; "
                            f"name the file {self.path.stem}.mp4 (or .mov, .mkv, .webm)")
        container, default_codec = FORMATS[suffix]
        codec = self.codec or default_codec
        try:
            av.codec.Codec(codec, "w")
        except Exception:
            raise SinkError(f"record {self.path}: this PyAV/FFmpeg has no {codec!r} encoder; "
                            f"use codec={default_codec} (or leave codec out)") from None
        try:
            trial = av.open(io.BytesIO(), "w", format=container)
            try:
                self._add_stream(trial, codec, 64, 64)
                trial.start_encoding()
            finally:
                trial.close()
        except Exception as e:
            raise SinkError(f"record {self.path}: {container} files cannot hold {codec} video ({e}); "
                            f"use codec={default_codec}") from None
        if self.path.is_dir():
            raise SinkError(f"record {self.path}: is a folder; name a file, e.g. {self.path / 'show.mp4'}")
        check_folder(self.path.parent, f"record {self.path}")
        return container, codec

    def _add_stream(self, container, codec: str, width: int, height: int):
        import av

        stream = container.add_stream(codec, rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        formats = [f.name for f in (av.codec.Codec(codec, "w").video_formats or ())]
        stream.pix_fmt = "yuv420p" if not formats or "yuv420p" in formats else formats[0]
        if codec in ("libx264", "libx265"):
            stream.options = {"crf": str(self.crf)}
        stream.thread_count = 1 if self.lossless else 2    # one encoder thread: the same bytes every render
        return stream

    # ------------------------------------------------------------------ recording
    def _open(self, width: int, height: int) -> None:
        import av

        if width % 2 or height % 2:
            raise SinkError(f"record: H.264 needs an even frame size, got {width}x{height}; use --size")
        container, codec = self.container_and_codec()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self.partial_path), mode="w", format=container)
            self._stream = self._add_stream(self._container, codec, width, height)
        except Exception as e:
            self._discard()
            raise SinkError(f"{self.label}: cannot start the recording ({e})") from None

    def _send(self, frame: Frame) -> None:
        """Delivery thread: the image waits until the next frame says how long it stays on screen."""
        import av

        if self._t0 is None:
            self._t0 = frame.t
        slot = max(0, math.ceil((frame.t - self._t0) * self.fps - 1e-6))     # first output frame at or after t
        image = av.VideoFrame.from_ndarray(frame.numpy(), format="rgba").reformat(format=self._stream.pix_fmt)
        if self._pending is not None and slot <= self._pending[1]:
            self.skipped += 1                                                # same output frame: newer wins
            slot = self._pending[1]
        else:
            self._encode_pending(until=slot)
        self._pending = (image, slot, frame.index)
        self._t_prev = self._t_last if self._received else None
        self._t_last = frame.t
        self._received += 1

    def _encode_pending(self, until: int) -> None:
        """Encode the waiting image at its output frame and hold it on every output frame before ``until``."""
        if self._pending is None:
            return
        image, slot, index = self._pending
        try:
            self._encode(image, slot)
            self.shown += 1
            while self._next_pts < until:
                self._encode(image, self._next_pts)
        except Exception as e:
            self._pending = None
            raise SinkError(self._abort(f"encoding frame {index} failed ({e or type(e).__name__})")) from None
        self._pending = None

    def _encode(self, image, pts: int) -> None:
        image.pts = pts
        for packet in self._stream.encode(image):
            self._container.mux(packet)
        self._next_pts = pts + 1
        self.frames += 1

    def _finish(self) -> None:
        """Flush the encoder, write the trailer, move the file into place (or remove an empty one)."""
        container, self._container = self._container, None
        if container is None:
            return
        try:
            for packet in self._stream.encode(None):
                container.mux(packet)
        finally:
            container.close()
        if self.frames == 0:
            self._discard()
            raise SinkError(f"{self.label}: no frame was recorded")
        os.replace(self.partial_path, self.path)

    def _abort(self, what: str) -> str:
        """After a failure mid-recording: keep every frame before it in a properly closed file."""
        kept = self.frames
        try:
            self._finish()
        except Exception as e:
            self._container = None
            if self.partial_path.exists():
                return f"{what}; closing the file failed too ({e}); what was recorded is in {self.partial_path}"
            return f"{what}; nothing was recorded"
        return f"{what}; {self.path} keeps the {kept} frames ({kept / self.fps:.1f} s) recorded before it"

    def _discard(self) -> None:
        try:
            self.partial_path.unlink()
        except FileNotFoundError:
            pass

    def _close(self) -> None:
        if self._container is None:
            return
        if self._pending is not None:
            # The show ended one frame period after its last frame: the file ends there too. A last
            # image that would only appear at that end is never on screen (counted as skipped).
            end = self._pending[1] + 1
            if self._t_prev is not None and self._t0 is not None:
                end = math.ceil((2 * self._t_last - self._t_prev - self._t0) * self.fps - 1e-6)
            if self._pending[1] < end or self.frames == 0:
                self._encode_pending(until=end)
            else:
                self._pending = None
                self.skipped += 1
        try:
            self._finish()
        except SinkError:
            raise
        except Exception as e:
            kept = self.partial_path if self.partial_path.exists() else None
            where = f"; what was recorded is in {kept}" if kept else ""
            raise SinkError(f"{self.label}: finishing the file failed ({e or type(e).__name__}){where}") from None
        log.info("recorded %s: %d frames (%.1f s) from %d show frames, %d dropped", self.path, self.frames,
                 self.frames / self.fps, self.shown, self.dropped)
