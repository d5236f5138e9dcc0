"""The null sink: takes frames and drops them (benchmarks, headless runs)."""

from __future__ import annotations

from types import MappingProxyType

from .base import Frame, Sink, option_flag


class NullSink(Sink):
    """Counts frames. ``readback=True`` also copies each frame to host memory, to time that stage."""

    name = "null"
    on_render_thread = True        # nothing to do: a thread would cost more than the work
    OPTIONS = MappingProxyType({"readback": "copy each frame to host memory (to time the readback)"})

    def __init__(self, readback: bool = False):
        super().__init__()
        self.readback = readback
        self.needs_host = readback
        self.frames = 0

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> NullSink:
        return cls(readback=option_flag("null", options, "readback"))

    def _send(self, frame: Frame) -> None:
        if self.readback:
            frame.host()
        self.frames += 1
