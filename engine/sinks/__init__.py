"""Outputs. A sink spec on the command line is ``NAME[:ARG][,key=value...]``:

``null``, ``window``, ``window:fullscreen,screen=1``, ``record:show.mp4``, ``snapshot:shots/``,
``ndi:netblend``, ``spout:netblend``, ``syphon:netblend``, ``vcam``.

Each optional backend is imported only when its sink is opened or asked ``why_not()``, so a missing
library costs nothing until it is used and is then reported in one line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ..errors import NetblendError
from .base import Frame, Sink, SinkError

# name -> (module, class, what it is)
SINKS: dict[str, tuple[str, str, str]] = {
    "null": ("engine.sinks.null", "NullSink", "discards frames (benchmarks)"),
    "window": ("engine.sinks.window", "WindowSink", "pyglet window, fullscreen on any screen"),
    "record": ("engine.sinks.record", "RecordSink", "video file through PyAV (mp4/h264, mov, mkv)"),
    "snapshot": ("engine.sinks.snapshot", "SnapshotSink", "PNG stills on request or every N frames"),
    "ndi": ("engine.sinks.ndi", "NdiSink", "NDI sender on the network (cyndilib)"),
    "spout": ("engine.sinks.spout", "SpoutSink", "Spout sender (Windows, SpoutGL)"),
    "syphon": ("engine.sinks.syphon", "SyphonSink", "Syphon server (macOS, syphon-python)"),
    "vcam": ("engine.sinks.vcam", "VirtualCameraSink", "virtual webcam (pyvirtualcam)"),
}

__all__ = ["SINKS", "Frame", "Sink", "SinkError", "SinkSpec", "check_sink_specs", "make_sinks", "parse_sink",
           "sink_class", "sink_table"]


@dataclass
class SinkSpec:
    name: str
    arg: str | None = None
    options: dict[str, str] = field(default_factory=dict)


def parse_sink(text: str) -> SinkSpec:
    """Parse ``NAME[:ARG][,key=value...]``; raises NetblendError naming the bad part."""
    head, *opts = text.split(",")
    name, _, arg = head.partition(":")
    name = name.strip().lower()
    if name not in SINKS:
        raise NetblendError(f"unknown output {name!r} in --sink {text!r}; choose from {', '.join(SINKS)}")
    options = {}
    for opt in opts:
        key, eq, value = opt.partition("=")
        if not key:
            continue
        options[key.strip()] = value.strip() if eq else "1"
    return SinkSpec(name, arg or None, options)


def sink_class(name: str) -> type[Sink]:
    module, cls, _ = SINKS[name]
    return getattr(importlib.import_module(module), cls)


def check_sink_specs(specs: list[str]) -> list[SinkSpec]:
    """Parse every ``--sink`` spec and check its backend can run here; one-line errors, no output opened."""
    parsed = []
    for text in specs:
        spec = parse_sink(text)
        reason = sink_class(spec.name).why_not()
        if reason is not None:
            raise NetblendError(f"--sink {text}: {reason}")
        parsed.append(spec)
    return parsed


def make_sinks(specs: list[str], context: dict) -> list[Sink]:
    """The outputs for ``specs`` (not opened yet); ``context`` holds what some sinks can use (fps,
    registry, on_close, mask_source, fps_source)."""
    return [sink_class(spec.name).from_spec(spec.arg, spec.options, **context) for spec in check_sink_specs(specs)]


def sink_table() -> list[tuple[str, str, str]]:
    """``(name, 'available' or why not, description)`` for every sink: what `netblend sinks` prints."""
    rows = []
    for name, (_, _, what) in SINKS.items():
        try:
            reason = sink_class(name).why_not()
        except Exception as e:  # a backend that breaks on import is reported, not raised
            reason = f"import failed: {e}"
        rows.append((name, "available" if reason is None else reason, what))
    return rows
