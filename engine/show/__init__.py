"""The one place that assembles a show: render loop, frame boundary, presets, tempo, swaps, sinks and
transports. ``netblend run``, ``render``, ``bench`` and ``warmup`` all build the same :class:`Show`.

    show = assemble(ShowConfig(models=["a.pkl", "b.pkl"], fps=60))
    show.add_sink(sink)
    start_transports(show, TransportConfig(...))      # OSC, MIDI, Link, autosave, recorder
    show.run(seconds=60)

Names are imported lazily, so the frame path (``engine.show.loop``, ``engine.show.render``) never
pulls in the transports' I/O libraries.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Show": "engine.show.show",
    "ShowConfig": "engine.show.assembly",
    "assemble": "engine.show.assembly",
    "MidiConfig": "engine.show.transports",
    "OscConfig": "engine.show.transports",
    "TransportConfig": "engine.show.transports",
    "check_transports": "engine.show.transports",
    "start_transports": "engine.show.transports",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.show' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
