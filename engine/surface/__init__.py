"""The control surface: one HTTP port per engine with OSCQuery discovery, a WebSocket that streams
values and takes OSC, and a control page (plain static files) generated from the parameter registry.

Entry point: :func:`start_surface` (see :mod:`engine.surface.server`); the show implements
:class:`SurfaceHost` (see :mod:`engine.surface.host`) and sends frames to ``surface.preview``.
"""

from .host import DEFAULT_HTTP_HOST, DEFAULT_HTTP_PORT, SurfaceConfig, SurfaceError, SurfaceHost, is_loopback
from .preview import PreviewSink
from .server import Surface, start_surface

__all__ = ["DEFAULT_HTTP_HOST", "DEFAULT_HTTP_PORT", "PreviewSink", "Surface", "SurfaceConfig", "SurfaceError",
           "SurfaceHost", "is_loopback", "start_surface"]
