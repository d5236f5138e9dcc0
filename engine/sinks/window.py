"""A pyglet window: one reused RGBA8 texture, uploaded with glTexSubImage2D, drawn letterboxed.

Keys: space pause, f fullscreen, h overlay (fps and the blend mask as bars), s snapshot, p panic,
Esc / closing the window stops the show. The window lives on the render thread (GL contexts are
per-thread); events are dispatched once per frame, so a busy window never stalls the loop.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from .base import Frame, Sink

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

    def __init__(self, fullscreen: bool = False, screen: int = 0, vsync: bool = True,
                 registry=None, on_close: Callable[[], None] | None = None, title: str = "netblend",
                 mask_source: Callable[[], list[float]] | None = None, fps_source: Callable[[], float] | None = None):
        super().__init__()
        self.fullscreen = fullscreen
        self.screen_index = screen
        self.vsync = vsync
        self.registry = registry            # where keys write (engine.pause, blend.panic, ...)
        self.on_close = on_close            # the loop's stop
        self.title = title
        self.mask_source = mask_source      # per-layer t values for the overlay bars
        self.fps_source = fps_source
        self.closed_by_user = False
        self._window = None
        self._texture = None
        self._sprite = None
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
        words = {arg or "", *options}
        return cls(fullscreen="fullscreen" in words, screen=int(options.get("screen", 0)),
                   vsync=options.get("vsync", "1") not in ("0", "false", "no"),
                   registry=context.get("registry"), on_close=context.get("on_close"),
                   mask_source=context.get("mask_source"), fps_source=context.get("fps_source"))

    # ----------------------------------------------------------------------------------------
    def _open(self, width: int, height: int) -> None:
        import pyglet
        from pyglet import gl

        display = pyglet.display.get_display()
        screens = display.get_screens()
        screen = screens[min(self.screen_index, len(screens) - 1)]
        config = gl.Config(double_buffer=True, red_size=8, green_size=8, blue_size=8, alpha_size=8)
        try:
            config = screen.get_best_config(config)
        except pyglet.window.NoSuchConfigException:
            config = None
        self._window = pyglet.window.Window(
            width, height, caption=self.title, resizable=True, vsync=self.vsync,
            fullscreen=self.fullscreen, screen=screen, config=config,
        )
        self._window.push_handlers(on_key_press=self._on_key, on_close=self._on_close)
        self._texture = pyglet.image.Texture.create(width, height, internalformat=gl.GL_RGBA8)
        self._sprite = pyglet.sprite.Sprite(self._texture)
        self._overlay = _Overlay(pyglet)

    def _on_key(self, symbol: int, modifiers: int) -> bool:
        from pyglet.window import key

        name = key.symbol_string(symbol).lower()
        if name == "escape":
            self._on_close()
        elif name == "f":
            self._window.set_fullscreen(not self._window.fullscreen)
        elif self.registry is not None and name in KEYS:
            param = KEYS[name]
            self.registry.set(param, 0.0 if self.registry.get(param) > 0.5 else 1.0, source="window")
        elif self.registry is not None and name in TRIGGER_KEYS:
            self.registry.set(TRIGGER_KEYS[name], 1.0, source="window")
        return True  # handled: pyglet's default Esc handler must not close the window behind our back

    def _on_close(self) -> bool:
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

    def _draw(self, frame: Frame) -> None:
        from pyglet import gl

        pixels = frame.host()
        self._window.switch_to()
        gl.glBindTexture(gl.GL_TEXTURE_2D, self._texture.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, frame.width, frame.height, gl.GL_RGBA,
                           gl.GL_UNSIGNED_BYTE, pixels.data_ptr())
        fw, fh = self._window.get_framebuffer_size()
        gl.glViewport(0, 0, fw, fh)
        self._window.projection = _ortho(fw, fh)
        self._window.clear()
        self._place_sprite()
        self._sprite.draw()
        if self.registry is not None and self.registry.get("engine.overlay") > 0.5:
            fps = self.fps_source() if self.fps_source else 0.0
            mask = self.mask_source() if self.mask_source else []
            self._overlay.draw(fw, fh, fps, mask)

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
        if self._window is not None:
            self._window.close()
            self._window = None


def _ortho(width: int, height: int):
    from pyglet.math import Mat4

    return Mat4.orthogonal_projection(0, width, 0, height, -255, 255)


class _Overlay:
    """fps text and the blend mask as bars (one per layer; the [0, 1] band is marked)."""

    def __init__(self, pyglet):
        self.pyglet = pyglet
        self.batch = pyglet.graphics.Batch()
        self.label = pyglet.text.Label("", x=8, y=8, font_size=12, color=(255, 255, 255, 255), batch=self.batch)
        self.bars: list = []

    def draw(self, width: int, height: int, fps: float, mask: list[float]) -> None:
        shapes = self.pyglet.shapes
        self.label.text = f"{fps:5.1f} fps"
        self.label.y = height - 20
        while len(self.bars) < len(mask):
            self.bars.append(shapes.Rectangle(0, 0, 1, 1, color=(255, 200, 0, 200), batch=self.batch))
        for bar in self.bars[len(mask):]:
            bar.visible = False
        unit, base, bw = 40.0, 24.0, max(4.0, min(16.0, (width - 16) / max(len(mask), 1) - 2))
        for i, (bar, t) in enumerate(zip(self.bars, mask)):
            bar.visible = True
            bar.x, bar.y, bar.width = 8 + i * (bw + 2), base, bw
            bar.height = max(1.0, abs(t) * unit)
            if t < 0:
                bar.y = base - bar.height
            bar.color = (255, 200, 0, 200) if 0.0 <= t <= 1.0 else (255, 60, 60, 220)  # red = overblend
        self.batch.draw()
