"""Run under a display by tests/sinks/test_window.py: opens a WindowSink, sends frames, presses keys,
and writes what the window shows (read back from its framebuffer) to the .npz named in argv[1]."""

import sys

import numpy as np
import torch

from engine.core.params import ParamRegistry, ParamSpec
from engine.show.catalog import engine_params
from engine.sinks.base import Frame
from engine.sinks.window import WindowSink


def pattern(h: int, w: int, shift: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    rgb = [(xx * 3 + shift) % 256, (yy * 5) % 256, ((xx ^ yy) + shift) % 256]
    return torch.stack([*rgb, torch.full_like(xx, 255)], -1).to(torch.uint8)


def main(out: str) -> None:
    registry = ParamRegistry()
    registry.add_all(engine_params())
    registry.add(ParamSpec("blend.panic", kind="trigger"))
    closed = []
    sink = WindowSink(vsync=False, registry=registry, on_close=lambda: closed.append(True))
    h, w = 90, 160
    with sink.open(w, h):
        sent = [pattern(h, w, k * 40) for k in range(3)]
        for i, px in enumerate(sent):
            sink.send(Frame(px, i))
        shown = sink.read_back()
        from pyglet.window import key

        win = sink._window
        win.dispatch_event("on_key_press", key.SPACE, 0)
        win.dispatch_event("on_key_press", key.P, 0)
        win.dispatch_event("on_key_press", key.H, 0)
        sink.send(Frame(sent[0], 3))              # overlay on: bars are drawn over the frame
        with_overlay = sink.read_back()
        win.dispatch_event("on_key_press", key.ESCAPE, 0)
        sink.send(Frame(sent[0], 4))              # key events are handled at the next frame
        snap = registry.snapshot()
        np.savez(out, sent=sent[-1].numpy(), shown=shown, first=sent[0].numpy(), with_overlay=with_overlay,
                 pause=snap["engine.pause"], panic=snap.triggers["blend.panic"], closed=len(closed))


if __name__ == "__main__":
    main(sys.argv[1])
