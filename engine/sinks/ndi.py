"""NDI sender (cyndilib, which bundles the NDI runtime). Announces itself on the LAN by mDNS the
moment it opens, so it only ever starts on the user's explicit ``--sink ndi:NAME``; tests replace the
sender object (see NOTES.md, network rule)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from .base import Frame, Sink


def _cyndilib_sender(name: str, width: int, height: int, fps: float):
    from cyndilib.sender import Sender
    from cyndilib.video_frame import VideoSendFrame
    from cyndilib.wrapper.ndi_structs import FourCC

    sender = Sender(name)
    video = VideoSendFrame()
    video.set_resolution(width, height)
    video.set_frame_rate(Fraction(fps).limit_denominator(1001))
    video.set_fourcc(FourCC.RGBA)
    sender.set_video_frame(video)
    sender.open()
    return sender


class NdiSink(Sink):
    name = "ndi"

    def __init__(self, source_name: str = "netblend", fps: float = 60.0,
                 sender_factory: Callable[..., object] = _cyndilib_sender):
        super().__init__()
        self.source_name = source_name
        self.fps = fps
        self._factory = sender_factory
        self._sender = None

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
        return self.why_not() if self._factory is _cyndilib_sender else None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], fps: float = 60.0, **context) -> NdiSink:
        return cls(arg or "netblend", fps=float(options.get("fps", fps or 60.0)))

    def _open(self, width: int, height: int) -> None:
        self._sender = self._factory(self.source_name, width, height, self.fps)

    def _send(self, frame: Frame) -> None:
        # NDI takes packed RGBA rows, top row first: exactly our frame layout.
        self._sender.write_video_async(frame.numpy().reshape(-1))

    def _close(self) -> None:
        if self._sender is not None:
            self._sender.close()
            self._sender = None
