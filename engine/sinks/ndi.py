"""NDI sender (cyndilib, which bundles the NDI runtime). Announces itself on the LAN by mDNS the
moment it opens, so it only ever starts on the user's explicit ``--sink ndi:NAME``; tests replace the
sender object (see NOTES.md, network rule).

The engine paces itself: cyndilib's default ``clock_video=True`` makes every send sleep to hold the
declared frame rate, which paced the whole show (a 43.7 fps show fell to 28.3). Here the sender runs
unclocked on the sink's delivery thread, fed from a one-frame slot where the latest frame wins: a
receiver or network that falls behind drops frames (``dropped``), never the show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from fractions import Fraction
from types import MappingProxyType, SimpleNamespace
from typing import Any

from .base import Frame, Sink, SinkError, option_number

log = logging.getLogger("netblend")

GIVE_UP_AFTER = 100        # consecutive failed sends before the sender counts as gone


def cyndilib_api() -> SimpleNamespace:
    """The three cyndilib classes the sender needs."""
    from cyndilib.sender import Sender
    from cyndilib.video_frame import VideoSendFrame
    from cyndilib.wrapper.ndi_structs import FourCC

    return SimpleNamespace(Sender=Sender, VideoSendFrame=VideoSendFrame, FourCC=FourCC)


def build_sender(name: str, width: int, height: int, fps: float, api: SimpleNamespace | None = None):
    """An NDI sender for RGBA frames of ``width`` x ``height``, not yet opened (nothing announced),
    with video clocking off: the show sets the pace."""
    api = api or cyndilib_api()
    sender = api.Sender(name, clock_video=False)
    video = api.VideoSendFrame()
    video.set_resolution(width, height)
    video.set_frame_rate(Fraction(fps).limit_denominator(1001))
    video.set_fourcc(api.FourCC.RGBA)
    sender.set_video_frame(video)
    return sender


def open_cyndilib_sender(name: str, width: int, height: int, fps: float):
    """The real sender, opened: from here on it is visible on the LAN."""
    sender = build_sender(name, width, height, fps)
    sender.open()
    return sender


class NdiSink(Sink):
    name = "ndi"
    OPTIONS = MappingProxyType({"fps": "frame rate announced to receivers (default: the show's --fps, else 60)"})

    def __init__(self, source_name: str = "netblend", fps: float = 60.0,
                 sender_factory: Callable[..., object] = open_cyndilib_sender):
        super().__init__()
        self.source_name = source_name
        self.fps = fps
        self._factory = sender_factory
        self._sender: Any = None
        self.failed_sends = 0
        self._failing = 0

    @property
    def label(self) -> str:
        return f"ndi {self.source_name}"

    @classmethod
    def why_not(cls) -> str | None:
        try:
            import cyndilib  # noqa: F401
        except ImportError:
            return "cyndilib is not installed: pip install 'netblend[ndi]'"
        except OSError as e:
            return f"the NDI runtime failed to load ({e}); reinstall cyndilib"
        return None

    def _unavailable(self) -> str | None:
        # A sender supplied by the caller (tests, a custom transport) needs no cyndilib.
        return self.why_not() if self._factory is open_cyndilib_sender else None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], fps: float | None = None, **context) -> NdiSink:
        return cls(arg or "netblend", fps=option_number("ndi", options, "fps", fps or 60.0, low=1, high=240))

    def _open(self, width: int, height: int) -> None:
        self._sender = self._factory(self.source_name, width, height, self.fps)

    def _send(self, frame: Frame) -> None:
        """Delivery thread. NDI takes packed RGBA rows, top row first: exactly our frame layout
        (cyndilib copies the pixels into its own buffer before the asynchronous send). A failed send
        loses that frame only; the sink gives up after many in a row."""
        try:
            self._sender.write_video_async(frame.numpy().reshape(-1))
        except Exception as e:
            self.failed_sends += 1
            self._failing += 1
            self.failure = f"{self.failed_sends} frame(s) could not be sent ({e or type(e).__name__})"
            if self._failing == 1 or self.failed_sends % 100 == 0:
                log.error("%s: %s", self.label, self.failure)
            if self._failing >= GIVE_UP_AFTER:
                raise SinkError(f"{self._failing} sends in a row failed ({e or type(e).__name__})") from None
            return
        self._failing = 0

    def _close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None
