"""Virtual webcam (pyvirtualcam): OBS, Zoom, browsers see the show as a camera.

Linux needs the v4l2loopback kernel module (``modprobe v4l2loopback``); Windows and macOS need the
OBS virtual camera installed."""

from __future__ import annotations

import glob
import sys
from types import MappingProxyType
from typing import Any

from .base import Frame, Sink, option_number


class VirtualCameraSink(Sink):
    name = "vcam"
    OPTIONS = MappingProxyType({"fps": "frame rate of the camera (default: the show's --fps, else 30)"})

    def __init__(self, fps: float = 30.0, device: str | None = None):
        super().__init__()
        self.fps = fps
        self.device = device
        self._camera: Any = None

    @classmethod
    def why_not(cls) -> str | None:
        try:
            import pyvirtualcam  # noqa: F401
        except ImportError:
            return "pyvirtualcam is not installed: pip install 'netblend[vcam]'"
        if sys.platform.startswith("linux") and not glob.glob("/sys/devices/virtual/video4linux/video*"):
            return "no v4l2loopback device: sudo modprobe v4l2loopback (then restart netblend)"
        return None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], fps: float | None = None, **context):
        return cls(fps=option_number("vcam", options, "fps", fps or 30.0, low=1, high=240), device=arg)

    def _open(self, width: int, height: int) -> None:
        import pyvirtualcam

        self._camera = pyvirtualcam.Camera(width, height, self.fps, fmt=pyvirtualcam.PixelFormat.RGBA,
                                           device=self.device)

    def _send(self, frame: Frame) -> None:
        # Delivery thread: pyvirtualcam converts and writes the frame; the show never waits for it.
        self._camera.send(frame.numpy())

    def _close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None
