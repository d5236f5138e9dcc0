"""Spout sender (Windows, SpoutGL): TouchDesigner and Resolume pick it up as a Spout source."""

from __future__ import annotations

import sys
from typing import Any

from .base import Frame, Sink


class SpoutSink(Sink):
    name = "spout"
    on_render_thread = True     # Spout shares GL textures: its GL context lives on the render thread

    def __init__(self, sender_name: str = "netblend"):
        super().__init__()
        self.sender_name = sender_name
        self._sender: Any = None
        self._gl_rgba: Any = None

    @classmethod
    def why_not(cls) -> str | None:
        if sys.platform != "win32":
            return "Spout exists on Windows only (use ndi on other systems, syphon on macOS)"
        try:
            import SpoutGL  # noqa: F401
        except ImportError:
            return "SpoutGL is not installed: pip install 'netblend[spout]'"
        return None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> SpoutSink:
        return cls(arg or "netblend")

    def _open(self, width: int, height: int) -> None:
        import SpoutGL
        from pyglet import gl

        self._sender = SpoutGL.SpoutSender()
        self._sender.setSenderName(self.sender_name)
        # Spout shares GL textures: with no window of ours, Spout makes its own hidden GL context.
        if hasattr(self._sender, "createOpenGL"):
            self._sender.createOpenGL()
        self._gl_rgba = gl.GL_RGBA

    def _send(self, frame: Frame) -> None:
        # invert=True: Spout expects the bottom row first, our frames start at the top.
        self._sender.sendImage(frame.numpy().tobytes(), frame.width, frame.height, self._gl_rgba, True, 0)

    def _close(self) -> None:
        if self._sender is not None:
            self._sender.releaseSender()
            self._sender = None
