"""Virtual webcam (pyvirtualcam): OBS, Zoom, browsers see the show as a camera.

Linux needs the v4l2loopback kernel module (``modprobe v4l2loopback``); Windows and macOS need the
OBS virtual camera installed."""

from __future__ import annotations

import glob
import sys

from .base import Frame, Sink


class VirtualCameraSink(Sink):
    name = "vcam"

    def __init__(self, fps: float = 30.0, device: str | None = None):
        super().__init__()
        self.fps = fps
        self.device = device
        self._camera = None

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
    def from_spec(cls, arg: str | None, options: dict[str, str], fps: float = 30.0, **context):
        return cls(fps=float(options.get("fps", fps or 30.0)), device=arg)

    def _open(self, width: int, height: int) -> None:
        import pyvirtualcam

        self._camera = pyvirtualcam.Camera(width, height, self.fps, fmt=pyvirtualcam.PixelFormat.RGBA,
                                           device=self.device)

    def _send(self, frame: Frame) -> None:
        self._camera.send(frame.numpy())

    def _close(self) -> None:
        if self._camera is not None:
            self._camera.close()
            self._camera = None
