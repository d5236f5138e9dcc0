"""Outputs. A sink spec on the command line is ``NAME[:ARG][,key=value...]``:

``null``, ``window``, ``window:fullscreen,screen=1``, ``record:show.mp4``, ``snapshot:shots/``,
``ndi:netblend``, ``spout:netblend``, ``syphon:netblend``, ``vcam``. docs/outputs.md lists every
option. An unknown option is an error naming the options the sink takes.

Each optional backend is imported only when its sink is opened or asked ``why_not()``, so a missing
library costs nothing until it is used and is then reported in one line.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..errors import NetblendError
from .base import Frame, Sink, SinkError

# name -> (module, class, what it is)
SINKS: dict[str, tuple[str, str, str]] = {
    "null": ("engine.sinks.null", "NullSink", "discards frames (benchmarks)"),
    "window": ("engine.sinks.window", "WindowSink", "pyglet window, fullscreen on any screen"),
    "record": ("engine.sinks.record", "RecordSink", "video file through PyAV (mp4/h264, mov, mkv, webm)"),
    "snapshot": ("engine.sinks.snapshot", "SnapshotSink", "PNG stills on request or every N frames"),
    "ndi": ("engine.sinks.ndi", "NdiSink", "NDI sender on the network (cyndilib)"),
    "spout": ("engine.sinks.spout", "SpoutSink", "Spout sender (Windows, SpoutGL)"),
    "syphon": ("engine.sinks.syphon", "SyphonSink", "Syphon server (macOS, syphon-python)"),
    "vcam": ("engine.sinks.vcam", "VirtualCameraSink", "virtual webcam (pyvirtualcam)"),
}

__all__ = ["SINKS", "Frame", "Sink", "SinkError", "SinkSpec", "check_sink_specs", "make_sinks", "output_failures",
           "parse_sink", "sink_class", "sink_table"]


@dataclass
class SinkSpec:
    name: str
    arg: str | None = None
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def parse_sink(text: str) -> SinkSpec:
    """Parse ``NAME[:ARG][,key=value...]``; raises NetblendError naming the bad part."""
    head, *opts = text.split(",")
    name, _, arg = head.partition(":")
    name = name.strip().lower()
    if name not in SINKS:
        hint = difflib.get_close_matches(name, SINKS, n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise NetblendError(f"unknown output {name!r} in --sink {text!r}{did_you_mean}; choose from {', '.join(SINKS)}")
    options = {}
    for opt in opts:
        key, eq, value = opt.partition("=")
        key = key.strip()
        if not key:
            continue
        options[key] = value.strip() if eq else "1"
    return SinkSpec(name, arg or None, options, text)


def sink_class(name: str) -> type[Sink]:
    module, cls, _ = SINKS[name]
    return getattr(importlib.import_module(module), cls)


def _check_options(spec: SinkSpec, cls: type[Sink]) -> None:
    for key in spec.options:
        if key not in cls.OPTIONS:
            takes = ", ".join(cls.OPTIONS) or "no options"
            hint = difflib.get_close_matches(key, cls.OPTIONS, n=1)
            did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise NetblendError(f"--sink {spec.text}: {spec.name} has no option {key!r}{did_you_mean}; "
                                f"it takes {takes}")


def make_sinks(specs: Iterable[str], context: dict) -> list[Sink]:
    """The outputs for ``specs``, checked (backend available, options valid, files writable; see
    ``Sink.check``) but not opened; ``context`` holds what some sinks can use (fps, registry,
    on_close, overlay_source, kiosk, ...). Raises NetblendError naming the bad spec."""
    sinks = []
    for text in specs:
        spec = parse_sink(text)
        cls = sink_class(spec.name)
        reason = cls.why_not()
        if reason is not None:
            raise NetblendError(f"--sink {text}: {reason}")
        _check_options(spec, cls)
        sink = cls.from_spec(spec.arg, spec.options, **context)  # type: ignore[attr-defined]
        sink.check()
        sinks.append(sink)
    return sinks


def check_sink_specs(specs: Iterable[str]) -> list[SinkSpec]:
    """Check every ``--sink`` spec as :func:`make_sinks` would, before any model loads; opens nothing
    and writes nothing."""
    specs = list(specs)
    make_sinks(specs, {})
    return [parse_sink(text) for text in specs]


def output_failures(sinks: Iterable[Sink], dropped: Iterable[tuple[Sink, str]]) -> list[str]:
    """One line per output that failed during a show (dropped, or a failure its close reported):
    what ``netblend run`` and ``render`` print before exiting non-zero."""
    lines, seen = [], set()
    for sink, message in dropped:
        seen.add(id(sink))
        text = message if message.startswith(sink.label) else f"{sink.label}: {message}"
        lines.append(text)
    for sink in sinks:
        if id(sink) not in seen and sink.failure:
            lines.append(f"{sink.label}: {sink.failure}")
    return lines


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
