"""Syphon server (macOS 12+, syphon-python over Metal): TouchDesigner and Resolume see it as a source.

Note: the PyPI package named ``syphon`` is an unrelated CSV tool; ours is ``syphon-python``."""

from __future__ import annotations

import sys
from typing import Any

from .base import Frame, Sink


class SyphonSink(Sink):
    name = "syphon"

    def __init__(self, server_name: str = "netblend"):
        super().__init__()
        self.server_name = server_name
        self._server: Any = None
        self._texture: Any = None

    @classmethod
    def why_not(cls) -> str | None:
        if sys.platform != "darwin":
            return "Syphon exists on macOS only (use spout on Windows, ndi anywhere)"
        try:
            import syphon  # noqa: F401
            from syphon.utils.numpy import copy_image_to_mtl_texture  # noqa: F401
        except ImportError:
            return "syphon-python is not installed: pip install 'netblend[syphon]'"
        return None

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> SyphonSink:
        return cls(arg or "netblend")

    def _open(self, width: int, height: int) -> None:
        import syphon
        from syphon.utils.raw import create_mtl_texture

        self._server = syphon.SyphonMetalServer(self.server_name)
        self._texture = create_mtl_texture(self._server.device, width, height)

    def _send(self, frame: Frame) -> None:
        # Delivery thread (Metal objects may be used from any thread).
        from syphon.utils.numpy import copy_image_to_mtl_texture

        copy_image_to_mtl_texture(frame.numpy(), self._texture)
        self._server.publish_frame_texture(self._texture)

    def _close(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
