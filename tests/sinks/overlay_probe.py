"""Run under a display by tests/sinks/test_window.py: the overlay on a white frame, in a window and in
fullscreen, and kiosk mode. Writes what the window showed to the .npz named in argv[1]."""

import sys

import numpy as np
import torch

from engine.core.params import ParamRegistry, ParamSpec
from engine.show.catalog import engine_params
from engine.sinks.base import Frame
from engine.sinks.overlay import OverlayInfo, Pickup
from engine.sinks.window import WindowSink


def registry() -> ParamRegistry:
    reg = ParamRegistry()
    reg.add_all(engine_params())
    reg.add(ParamSpec("blend.panic", kind="trigger"))
    return reg


def main(out: str) -> None:
    info = OverlayInfo(fps=43.7, paused=True, mask=[0.0, 0.25, 0.5, 1.0, 1.6, -0.4, 0.8, 0.1],
                       faders=[0.0, 0.25, 0.5, 1.0, 1.0, 0.0, 0.8, 0.1], seed=42, preset="dusk",
                       walk="slerp, 4 s", bpm=128.0, pickup=[Pickup("blend.layer.3", 0.2, 0.75)])
    reg = registry()
    reg.set("engine.overlay", 1.0)
    closed = []
    sink = WindowSink(vsync=False, registry=reg, on_close=lambda: closed.append(True), overlay_source=lambda: info)
    white = torch.full((180, 320, 4), 255, dtype=torch.uint8)
    result = {}
    with sink.open(320, 180):
        sink.send(Frame(white, 0))
        result["small"] = sink.read_back()
        result["small_bounds"] = np.array(sink._overlay.bounds)
        result["cursor_windowed"] = sink.cursor_visible
        result["texts"] = np.array([label.text for label in sink._overlay.labels if label.visible])
        result["numbers"] = np.array([n.text for n in sink._overlay.numbers if n.visible])
        from pyglet.window import key

        sink._window.dispatch_event("on_key_press", key.F, 0)      # fullscreen on the 1280x1024 screen
        for i in range(3):
            sink.send(Frame(white, 1 + i))
        result["full"] = sink.read_back()
        result["full_bounds"] = np.array(sink._overlay.bounds)
        result["cursor_fullscreen"] = sink.cursor_visible
        sink._window.dispatch_event("on_key_press", key.F, 0)
        sink.send(Frame(white, 4))
        result["cursor_back"] = sink.cursor_visible
    kiosk_reg = registry()
    kiosk = WindowSink(vsync=False, registry=kiosk_reg, kiosk=True, on_close=lambda: closed.append("kiosk"))
    with kiosk.open(320, 180):
        kiosk.send(Frame(white, 0))
        win = kiosk._window
        result["kiosk_fullscreen"] = win.fullscreen
        result["kiosk_cursor"] = kiosk.cursor_visible
        for symbol in (key.ESCAPE, key.SPACE, key.P, key.F, key.H):
            win.dispatch_event("on_key_press", symbol, 0)
        win.dispatch_event("on_close")
        kiosk.send(Frame(white, 1))
        snap = kiosk_reg.snapshot()
        result["kiosk_pause"] = snap["engine.pause"]
        result["kiosk_overlay"] = snap["engine.overlay"]
        result["kiosk_panic"] = snap.triggers["blend.panic"]
        result["kiosk_still_fullscreen"] = win.fullscreen
        result["kiosk_closed"] = kiosk.closed_by_user
    result["closed"] = len(closed)
    np.savez(out, **result)


if __name__ == "__main__":
    main(sys.argv[1])
