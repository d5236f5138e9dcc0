"""The window's overlay: what a performer needs to read at a glance, drawn over the frame.

Top line: frame rate and PAUSED; second line: seed, preset, walk and tempo; then controls waiting
for MIDI pickup (move the fader to the value shown to take over). Below, the blend mask: one bar per
layer with its number under it, a scale with the 0 (model A) and 1 (model B) lines, overblend in red,
and a white tick where each layer's own fader sits. Everything sits on a dark translucent panel, so it
reads on a white frame as on a black one, and scales with the window (fullscreen on a 4K screen is
as readable as a small window).

The show fills an :class:`OverlayInfo` (``engine.show.overlay_info``); the sink only draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

PANEL = (0, 0, 0, 170)             # dark, translucent: readable on bright frames
TEXT = (255, 255, 255, 255)
BAR = (255, 200, 0, 230)           # 0 <= t <= 1
OVERBLEND = (255, 70, 70, 240)     # t outside [0, 1]
SCALE = (170, 170, 170, 200)
WARN = (255, 170, 60, 255)
BASE_HEIGHT = 720.0                # sizes below are for a 720-pixel-high window and scale with it


@dataclass
class Pickup:
    """A MIDI control that waits for pickup: it takes over once moved to the value."""

    param: str
    control: float          # where the control is, 0..1 of its travel
    value: float            # where the parameter's value sits on that travel, 0..1


@dataclass
class OverlayInfo:
    fps: float = 0.0
    paused: bool = False
    mask: Sequence[float] = ()                 # per-layer t the frame was rendered with
    faders: Sequence[float | None] = ()        # per-layer fader values (blend.layer.<i>); None: the curve drives it
    seed: int | None = None
    preset: str | None = None
    walk: str = ""                             # "slerp, 4 s"
    bpm: float | None = None
    pickup: Sequence[Pickup] = field(default_factory=tuple)

    def lines(self) -> list[str]:
        """The text lines, top first."""
        head = f"{self.fps:5.1f} fps" + ("   PAUSED" if self.paused else "")
        parts = []
        if self.seed is not None:
            parts.append(f"seed {self.seed}")
        parts.append(f"preset {self.preset or '-'}")
        if self.walk:
            parts.append(f"walk {self.walk}")
        if self.bpm is not None:
            parts.append(f"{self.bpm:.1f} BPM")
        lines = [head, "  ".join(parts)]
        for p in list(self.pickup)[:4]:
            way = "up" if p.value > p.control else "down"
            lines.append(f"pickup {p.param}: move {way} to {100 * p.value:.0f}% (at {100 * p.control:.0f}%)")
        if len(self.pickup) > 4:
            lines.append(f"... {len(self.pickup) - 4} more controls wait for pickup")
        return lines


class OverlayView:
    """pyglet shapes and labels for an :class:`OverlayInfo`, reused from frame to frame."""

    def __init__(self, pyglet):
        self.pyglet = pyglet
        self.batch = pyglet.graphics.Batch()
        self.back = pyglet.graphics.Group(order=0)
        self.front = pyglet.graphics.Group(order=1)
        self.panel = pyglet.shapes.Rectangle(0, 0, 1, 1, color=PANEL, batch=self.batch, group=self.back)
        self.labels: list = []
        self.bars: list = []
        self.ticks: list = []
        self.numbers: list = []
        self.scale_lines = [pyglet.shapes.Rectangle(0, 0, 1, 1, color=SCALE, batch=self.batch, group=self.front)
                            for _ in range(2)]
        self.scale_labels = [self._label("", 8) for _ in range(2)]
        self.bounds = (0, 0, 0, 0)                 # x, y, width, height of the panel (tests)

    def _label(self, text: str, size: float):
        return self.pyglet.text.Label(text, x=0, y=0, font_size=size, color=TEXT, batch=self.batch,
                                      group=self.front, anchor_y="bottom")

    def _grow(self, items: list, n: int, make) -> None:
        while len(items) < n:
            items.append(make())
        for i, item in enumerate(items):
            item.visible = i < n

    def draw(self, width: int, height: int, info: OverlayInfo) -> None:
        """Lay out and draw ``info`` in a framebuffer of ``width`` x ``height`` pixels."""
        s = max(0.6, height / BASE_HEIGHT)
        pad, line_h, font = 8 * s, 20 * s, 12 * s
        n = len(info.mask)
        bar_w = max(3 * s, min(16 * s, (width - 4 * pad) / max(n, 1) - 2 * s))
        unit = 40 * s                                # height of t = 1
        lines = info.lines()
        self._grow(self.labels, len(lines), lambda: self._label("", 12))
        text_w = 0.0
        top = height - pad
        for i, (label, text) in enumerate(zip(self.labels, lines)):
            label.text, label.font_size = text, font
            label.color = WARN if text.startswith(("pickup", "...")) else TEXT
            label.x, label.y = 2 * pad, top - pad - (i + 1) * line_h
            text_w = max(text_w, label.content_width)
        text_bottom = top - pad - len(lines) * line_h
        # The mask, under the text: numbers, then bars around the 0 line, overblend both ways.
        self._grow(self.bars, n, lambda: self.pyglet.shapes.Rectangle(0, 0, 1, 1, color=BAR, batch=self.batch,
                                                                      group=self.front))
        self._grow(self.ticks, n, lambda: self.pyglet.shapes.Rectangle(0, 0, 1, 1, color=TEXT, batch=self.batch,
                                                                       group=self.front))
        self._grow(self.numbers, n, lambda: self._label("", 8))
        ticks = [f for f in info.faders if f is not None]
        low = min([0.0, *info.mask, *ticks])
        high = max([1.0, *info.mask, *ticks])
        zero = text_bottom - pad - (high * unit) if n else text_bottom
        x0 = 2 * pad + 28 * s
        for i, t in enumerate(info.mask):
            bar, number = self.bars[i], self.numbers[i]
            bar.x, bar.width = x0 + i * (bar_w + 2 * s), bar_w
            bar.height = max(1.0, abs(t) * unit)
            bar.y = zero if t >= 0 else zero - bar.height
            bar.color = BAR if 0.0 <= t <= 1.0 else OVERBLEND
            number.text, number.font_size = str(i), 7 * s
            number.x, number.y = bar.x, zero + low * unit - 14 * s
        for i, tick in enumerate(self.ticks):
            fader = info.faders[i] if i < len(info.faders) and i < n else None
            tick.visible = fader is not None
            if fader is not None:
                tick.x, tick.y, tick.width, tick.height = self.bars[i].x, zero + fader * unit - s, bar_w, 2 * s
        mask_w = n * (bar_w + 2 * s) + 28 * s
        for line, label, value in zip(self.scale_lines, self.scale_labels, (0.0, 1.0)):
            line.visible = label.visible = n > 0
            line.x, line.y, line.width, line.height = x0 - 4 * s, zero + value * unit, mask_w - 24 * s, max(1.0, s)
            label.text, label.font_size = ("A 0" if value == 0 else "B 1"), 7 * s
            label.x, label.y = 2 * pad, zero + value * unit - 5 * s
        bottom = (zero + low * unit - 18 * s) if n else text_bottom
        panel_w = max(text_w, mask_w) + 2 * pad
        self.panel.x, self.panel.y = pad, bottom - pad
        self.panel.width, self.panel.height = panel_w, top - bottom + pad
        self.bounds = (self.panel.x, self.panel.y, self.panel.width, self.panel.height)
        self.batch.draw()
