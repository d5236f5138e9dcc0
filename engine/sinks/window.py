"""A pyglet window: one reused RGBA8 texture, drawn letterboxed, with an optional overlay.

Keys: space pause, f fullscreen, h overlay (see ``engine.sinks.overlay``), s snapshot, p panic,
Esc / closing the window stops the show. In fullscreen the mouse cursor is hidden. ``kiosk`` (an
installation): fullscreen, no cursor, and no key or window button stops or changes the show; it
stops on SIGTERM / Ctrl-C in the terminal or ``--seconds``.

The window lives on the render thread (GL contexts are per-thread); events are dispatched once per
frame, so a busy window never stalls the loop. A CUDA frame goes into the texture by CUDA-GL interop
where it works, else through the host copy (``engine.sinks.gl_upload``).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from .base import Frame, Sink, option_flag, option_number
from .gl_upload import HostUpload, choose_upload
from .overlay import OverlayInfo

log = logging.getLogger("netblend")

KEYS = {"space": "engine.pause", "h": "engine.overlay"}        # toggles
TRIGGER_KEYS = {"s": "engine.snapshot", "p": "blend.panic"}     # presses


def display_missing() -> str | None:
    """Why no window can open here, or None."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("PYGLET_HEADLESS")
    ):
        return "no display: run on a desktop, under xvfb-run, or set PYGLET_HEADLESS=true"
    return None


class WindowSink(Sink):
    name = "window"
    on_render_thread = True          # the GL context belongs to the render thread
    OPTIONS = MappingProxyType({
        "fullscreen": "fullscreen (also window:fullscreen)",
        "screen": "which screen, 0 = the first (default 0)",
        "vsync": "wait for the screen's refresh (default 1)",
        "kiosk": "installation mode: fullscreen, no cursor, keys and Esc ignored",
        "interop": "CUDA-GL interop for CUDA frames (default 1; 0 = always copy through the host)",
    })

    def __init__(self, fullscreen: bool = False, screen: int = 0, vsync: bool = True,
                 registry=None, on_close: Callable[[], None] | None = None, title: str = "netblend",
                 overlay_source: Callable[[], OverlayInfo] | None = None, kiosk: bool = False,
                 interop: bool = True):
        super().__init__()
        self.kiosk = kiosk
        self.fullscreen = fullscreen or kiosk
        self.screen_index = screen
        self.vsync = vsync
        self.registry = registry            # where keys write (engine.pause, blend.panic, ...)
        self.on_close = on_close            # the loop's stop
        self.title = title
        self.overlay_source = overlay_source
        self.interop = interop
        self.closed_by_user = False
        self.upload_note: str | None = None  # why frames go through the host copy, when they do
        self._window: Any = None
        self._texture: Any = None
        self._sprite: Any = None
        self._overlay: Any = None
        self._upload: Any = None
        self._last: Frame | None = None

    @classmethod
    def why_not(cls) -> str | None:
        try:
            import pyglet  # noqa: F401
        except ImportError:
            return "pyglet is not installed: pip install pyglet"
        return display_missing()

    @classmethod
    def from_spec(cls, arg: str | None, options: dict[str, str], **context) -> WindowSink:
        if arg not in (None, "fullscreen", "kiosk"):
            from .base import SinkError

            raise SinkError(f"window:{arg}: write window, window:fullscreen or window:kiosk")
        return cls(fullscreen=arg == "fullscreen" or option_flag("window", options, "fullscreen"),
                   screen=option_number("window", options, "screen", 0, integer=True, low=0),
                   vsync=option_flag("window", options, "vsync", True),
                   kiosk=arg == "kiosk" or option_flag("window", options, "kiosk", bool(context.get("kiosk"))),
                   interop=option_flag("window", options, "interop", True),
                   registry=context.get("registry"), on_close=context.get("on_close"),
                   overlay_source=context.get("overlay_source"))

    # ----------------------------------------------------------------------------------------
    def _open(self, width: int, height: int) -> None:
        import pyglet
        from pyglet import gl

        from .overlay import OverlayView

        display = pyglet.display.get_display()
        screens = display.get_screens()
        screen = screens[min(self.screen_index, len(screens) - 1)]
        wanted = gl.Config(double_buffer=True,  # type: ignore[abstract]
                           red_size=8, green_size=8, blue_size=8, alpha_size=8)
        config: Any = None
        try:
            config = screen.get_best_config(wanted)
        except pyglet.window.NoSuchConfigException:
            config = None
        self._window = pyglet.window.Window(
            width, height, caption=self.title, resizable=True, vsync=self.vsync,
            fullscreen=self.fullscreen, screen=screen, config=config,
        )
        self._window.push_handlers(on_key_press=self._on_key, on_close=self._on_close)
        self._window.set_mouse_visible(not self._window.fullscreen)
        self._texture = pyglet.image.Texture.create(width, height, internalformat=gl.GL_RGBA8)
        self._sprite = pyglet.sprite.Sprite(self._texture)
        self._overlay = OverlayView(pyglet)

    @property
    def cursor_visible(self) -> bool:
        return bool(self._window is not None and self._window._mouse_visible)

    def _on_key(self, symbol: int, modifiers: int) -> bool:
        from pyglet.window import key

        if self.kiosk:
            return True      # an installation: visitors' keys change nothing, Esc included
        name = key.symbol_string(symbol).lower()
        if name == "escape":
            self._on_close()
        elif name == "f":
            self._window.set_fullscreen(not self._window.fullscreen)
            self._window.set_mouse_visible(not self._window.fullscreen)
        elif self.registry is not None and name in KEYS:
            param = KEYS[name]
            self.registry.set(param, 0.0 if self.registry.get(param) > 0.5 else 1.0, source="window")
        elif self.registry is not None and name in TRIGGER_KEYS:
            self.registry.set(TRIGGER_KEYS[name], 1.0, source="window")
        return True  # handled: pyglet's default Esc handler must not close the window behind our back

    def _on_close(self) -> bool:
        if self.kiosk:
            return True      # the window manager's close button does not stop an installation
        self.closed_by_user = True
        if self.on_close is not None:
            self.on_close()
        return True

    def _place_sprite(self) -> None:
        """Letterbox the frame in the window, row 0 at the top (the sprite is flipped)."""
        fw, fh = self._window.get_framebuffer_size()
        tw, th = self._texture.width, self._texture.height
        scale = min(fw / tw, fh / th)
        self._sprite.update(x=(fw - tw * scale) / 2, y=(fh + th * scale) / 2, scale_x=scale, scale_y=-scale)

    def _upload_frame(self, frame: Frame) -> None:
        if self._upload is None:
            self._upload, self.upload_note = choose_upload(self._texture.id, frame.width, frame.height,
                                                           frame.pixels.device, interop=self.interop)
            if self.upload_note:
                log.info("window: %s", self.upload_note)
            self.needs_host = self._upload.needs_host
        try:
            self._upload.upload(frame)
        except Exception as e:  # interop failing mid-show: the host copy always works
            if isinstance(self._upload, HostUpload):
                raise
            self._upload.close()
            self._upload, self.needs_host = HostUpload(self._texture.id, frame.width, frame.height), True
            self.upload_note = f"CUDA-GL interop failed ({e}); using the host copy"
            log.warning("window: %s", self.upload_note)
            self._upload.upload(frame)

    def _draw(self, frame: Frame) -> None:
        self._window.switch_to()
        self._upload_frame(frame)
        fw, fh = self._window.get_framebuffer_size()
        from pyglet import gl

        gl.glViewport(0, 0, fw, fh)
        self._window.projection = _ortho(fw, fh)
        self._window.clear()
        self._place_sprite()
        self._sprite.draw()
        if self.registry is not None and self.registry.get("engine.overlay") > 0.5:
            info = self.overlay_source() if self.overlay_source else OverlayInfo(
                paused=self.registry.get("engine.pause") > 0.5)
            self._overlay.draw(fw, fh, info)

    def _send(self, frame: Frame) -> None:
        self._window.dispatch_events()
        if self.closed_by_user:
            return
        self._last = frame
        self._draw(frame)
        self._window.flip()

    def read_back(self):
        """Draw the last frame again and read the window's pixels: uint8 ``[H, W, 4]``, row 0 at the top.

        Used by tests to prove what the window shows."""
        import numpy as np
        from pyglet import gl

        self._draw(self._last)
        fw, fh = self._window.get_framebuffer_size()
        buf = (gl.GLubyte * (fw * fh * 4))()
        gl.glReadBuffer(gl.GL_BACK)
        gl.glReadPixels(0, 0, fw, fh, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, buf)
        return np.frombuffer(buf, dtype=np.uint8).reshape(fh, fw, 4)[::-1].copy()

    def _close(self) -> None:
        if self._upload is not None:
            self._upload.close()
            self._upload = None
        if self._window is not None:
            self._window.close()
            self._window = None


def _ortho(width: int, height: int):
    from pyglet.math import Mat4

    return Mat4.orthogonal_projection(0, width, 0, height, -255, 255)
