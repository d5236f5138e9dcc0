"""The null sink: takes frames and drops them (benchmarks, headless runs)."""

from __future__ import annotations

from .base import Frame, Sink


class NullSink(Sink):
    """Counts frames. ``readback=True`` also copies each frame to host memory, to time that stage."""

    name = "null"

    def __init__(self, readback: bool = False):
        super().__init__()
        self.readback = readback
        self.needs_host = readback
        self.frames = 0

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> NullSink:
        return cls(readback=options.get("readback", "0") not in ("0", "false", "no"))

    def _send(self, frame: Frame) -> None:
        if self.readback:
            frame.host()
        self.frames += 1
