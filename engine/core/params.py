"""The parameter registry: every live control of netblend, by dotted name.

Control threads (OSC, MIDI, file watchers, the CLI) call :meth:`ParamRegistry.set`; the render loop
calls :meth:`ParamRegistry.snapshot` once per frame and reads only that frozen snapshot. Writes are
"latest wins": a flood of writes to one parameter costs one dict store each and leaves no backlog.

Values are floats on the wire (what OSC and MIDI deliver). Each parameter declares a kind:

- ``float``: clamped to ``[lo, hi]`` (ranges may extend past [0, 1] for overblend);
- ``int``: rounded, then clamped;
- ``bool``: any value > 0.5 is on;
- ``choice``: an index into ``choices``; the name itself is accepted too;
- ``trigger``: an event (panic, next seed, tap); each accepted write bumps a counter, and the
  snapshot carries the counter so the loop fires once per press, however the frames fall.

A ``readonly`` parameter is a measurement (``audio.level``, ...): its writer is an analyser (ours, or
one outside sending OSC to the same address), so the registry accepts writes as usual, but the
control page shows it as a meter, presets neither save nor recall it, MIDI learn and modulation
routes refuse it as a target.

NaN and infinities are rejected (the last good value stays), as is any value that is not a number.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import NetblendError

KINDS = ("float", "int", "bool", "choice", "trigger")


class ParamError(NetblendError, ValueError):
    """A write the registry refuses: unknown name, wrong type, NaN/inf. The message says which."""


@dataclass(frozen=True)
class ParamSpec:
    name: str                        # dotted, e.g. "blend.layer.3"
    default: float = 0.0
    lo: float = 0.0                  # range; may extend past [0, 1] (overblend)
    hi: float = 1.0
    kind: str = "float"              # one of KINDS
    smoothing: float = 0.0           # seconds: time constant of the per-frame slew (0 = jump)
    choices: tuple[str, ...] = ()    # for kind == "choice"
    doc: str = ""
    readonly: bool = False           # a measured value (audio features): a meter, not a fader

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: kind {self.kind!r} is not one of {KINDS}")
        if self.kind == "choice":
            object.__setattr__(self, "lo", 0.0)
            object.__setattr__(self, "hi", float(max(len(self.choices) - 1, 0)))
        if self.kind in ("bool", "trigger"):
            object.__setattr__(self, "lo", 0.0)
            object.__setattr__(self, "hi", 1.0)
        if not self.lo <= self.default <= self.hi and self.kind != "trigger":
            raise ValueError(f"parameter {self.name}: default {self.default} outside [{self.lo}, {self.hi}]")

    @property
    def address(self) -> str:
        """The canonical OSC address: ``blend.layer.3`` -> ``/blend/layer/3``."""
        return "/" + self.name.replace(".", "/")

    def coerce(self, value: object) -> float:
        """Turn a raw control value into this parameter's value, or raise :class:`ParamError`."""
        if self.kind == "choice" and isinstance(value, str):
            if value not in self.choices:
                raise ParamError(f"{self.name}: {value!r} is not one of {', '.join(self.choices)}")
            return float(self.choices.index(value))
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)):
            try:
                value = float(value)  # type: ignore[arg-type]  # numpy scalars, 0-d tensors
            except (TypeError, ValueError):
                raise ParamError(f"{self.name}: expected a number, got {type(value).__name__}") from None
        value = float(value)
        if not math.isfinite(value):
            raise ParamError(f"{self.name}: {value} is not a finite number; the last good value stays")
        if self.kind == "bool":
            return 1.0 if value > 0.5 else 0.0
        if self.kind == "trigger":
            return 1.0
        if self.kind in ("int", "choice"):
            value = float(round(value))
        return min(max(value, self.lo), self.hi)


@dataclass(frozen=True)
class Snapshot:
    """One frame's frozen view of every parameter (smoothed values, trigger counters)."""

    values: Mapping[str, float]
    triggers: Mapping[str, int]
    version: int                      # bumps whenever any target value changed

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def get(self, name: str, default: float = 0.0) -> float:
        return self.values.get(name, default)

    def choice(self, spec: ParamSpec) -> str:
        return spec.choices[int(self.values[spec.name])]

    def group(self, prefix: str) -> dict[str, float]:
        """All values under ``prefix.`` keyed by the rest of the name."""
        p = prefix + "."
        return {k[len(p):]: v for k, v in self.values.items() if k.startswith(p)}


@dataclass
class _Change:
    value: float
    source: object


@dataclass
class ParamRegistry:
    """Dotted-name parameters with ranges, defaults and smoothing; thread-safe latest-wins writes."""

    _specs: dict[str, ParamSpec] = field(default_factory=dict)
    _targets: dict[str, float] = field(default_factory=dict)
    _smoothed: dict[str, float] = field(default_factory=dict)
    _triggers: dict[str, int] = field(default_factory=dict)
    _changes: dict[str, _Change] = field(default_factory=dict)
    _version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ----------------------------------------------------------------- declaration
    def add(self, spec: ParamSpec) -> ParamSpec:
        """Declare a parameter. Re-declaring the same name replaces the spec and keeps a valid value."""
        with self._lock:
            old = self._targets.get(spec.name)
            self._specs[spec.name] = spec
            value = spec.default if old is None else spec.coerce(old)
            self._targets[spec.name] = value
            self._smoothed[spec.name] = value
            self._triggers.setdefault(spec.name, 0)
            self._version += 1
        return spec

    def add_all(self, specs: Iterable[ParamSpec]) -> None:
        for spec in specs:
            self.add(spec)

    def remove(self, names: Iterable[str]) -> None:
        """Forget parameters (e.g. layers of a model that was swapped out)."""
        with self._lock:
            for name in list(names):
                for d in (self._specs, self._targets, self._smoothed, self._triggers, self._changes):
                    d.pop(name, None)
            self._version += 1

    # ----------------------------------------------------------------- lookup
    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(list(self._specs.values()))

    def __len__(self) -> int:
        return len(self._specs)

    def spec(self, name: str) -> ParamSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ParamError(f"unknown parameter {name!r}; `netblend osc` lists them all") from None

    def names(self, prefix: str = "") -> list[str]:
        return [n for n in self._specs if n.startswith(prefix)]

    def get(self, name: str) -> float:
        """The newest target value (not smoothed)."""
        self.spec(name)
        return self._targets[name]

    def by_address(self, address: str) -> ParamSpec | None:
        """The parameter whose canonical OSC address is ``address``, if any."""
        return self._specs.get(address.strip("/").replace("/", "."))

    # ----------------------------------------------------------------- writes (any thread)
    def set(self, name: str, value: object, source: object = None) -> float:
        """Write the newest value; returns the value stored (clamped). Raises :class:`ParamError`."""
        spec = self.spec(name)
        v = spec.coerce(value)
        with self._lock:
            if spec.kind == "trigger":
                self._triggers[name] += 1
            elif self._targets[name] == v:
                return v
            self._targets[name] = v
            self._changes[name] = _Change(v, source)
            self._version += 1
        return v

    def update(self, values: Mapping[str, object], source: object = None) -> list[str]:
        """Write several values (a preset, a mask); returns the messages of the writes refused."""
        errors = []
        for name, value in values.items():
            try:
                self.set(name, value, source)
            except ParamError as e:
                errors.append(str(e))
        return errors

    def jump(self, names: Iterable[str] | None = None) -> None:
        """Make smoothed values equal their targets at once (panic, preset recall without morph)."""
        with self._lock:
            for name in self._specs if names is None else names:
                self._smoothed[name] = self._targets[name]

    def targets(self) -> dict[str, float]:
        """A copy of every target value (what a preset saves)."""
        with self._lock:
            return dict(self._targets)

    def trigger_counts(self) -> dict[str, int]:
        """How often each trigger has fired so far."""
        with self._lock:
            return dict(self._triggers)

    def drain_changes(self) -> dict[str, tuple[float, object]]:
        """Changes since the last drain as ``{name: (value, source)}``: the feedback thread's input."""
        with self._lock:
            out = {k: (c.value, c.source) for k, c in self._changes.items()}
            self._changes.clear()
        return out

    # ----------------------------------------------------------------- the loop's side
    def snapshot(self, dt: float = 0.0) -> Snapshot:
        """Advance smoothing by ``dt`` seconds and return a frozen view for one frame."""
        with self._lock:
            targets = dict(self._targets)
            triggers = dict(self._triggers)
            version = self._version
        for name, target in targets.items():
            spec = self._specs.get(name)
            if spec is None:
                continue
            cur = self._smoothed.get(name, target)
            if spec.smoothing > 0.0 and spec.kind == "float" and cur != target:
                k = 1.0 - math.exp(-dt / spec.smoothing) if dt > 0 else 0.0
                cur += (target - cur) * k
                if abs(target - cur) <= 1e-6 * max(1.0, abs(target)):
                    cur = target
            else:
                cur = target
            self._smoothed[name] = cur
        return Snapshot(MappingProxyType(dict(self._smoothed)), MappingProxyType(triggers), version)
