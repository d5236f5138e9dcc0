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

# The options each output takes (NAME:ARG,key=value) and the kind of value: what parse_sink accepts.
# A sink that reads a new option from its spec must list it here.
SINK_OPTIONS: dict[str, dict[str, str]] = {
    "null": {"readback": "bool"},
    "window": {"fullscreen": "flag", "screen": "int", "vsync": "bool"},
    "record": {"fps": "float", "crf": "int", "block": "bool"},
    "snapshot": {"every": "int"},
    "ndi": {"fps": "float"},
    "spout": {},
    "syphon": {},
    "vcam": {"fps": "float"},
}
_KINDS = {"int": "a whole number, e.g. 30", "float": "a number, e.g. 29.97", "bool": "1 or 0 (true/false)",
          "flag": "given without a value"}
_BOOLS = ("1", "0", "true", "false", "yes", "no", "on", "off")

__all__ = ["SINKS", "SINK_OPTIONS", "Frame", "Sink", "SinkError", "SinkSpec", "check_sink_specs", "make_sinks",
           "parse_sink", "sink_class", "sink_table"]


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
        key = key.strip()
        if not key:
            continue
        options[key] = value.strip() if eq else "1"
        _check_option(text, name, key, options[key])
    return SinkSpec(name, arg or None, options)


def _check_option(text: str, name: str, key: str, value: str) -> None:
    """Refuse an option the sink does not take, or a value of the wrong kind, naming the valid ones."""
    import difflib

    allowed = SINK_OPTIONS.get(name, {})
    if key not in allowed:
        close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}? " if close else ""
        valid = ", ".join(allowed) or "none"
        raise NetblendError(f"--sink {text!r}: {name} has no option {key!r}; {hint}its options: {valid}")
    kind = allowed[key]
    try:
        if kind == "int":
            int(value)
        elif kind == "float":
            float(value)
        elif kind == "bool" and value.lower() not in _BOOLS:
            raise ValueError(value)
    except ValueError:
        raise NetblendError(f"--sink {text!r}: {key}={value!r} must be {_KINDS[kind]}") from None


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
