"""The parameter registry: every live control of netblend, by dotted name.

Control threads (OSC, MIDI, file watchers, the CLI) call :meth:`ParamRegistry.set`; the render loop
calls :meth:`ParamRegistry.snapshot` once per frame and reads only that frozen snapshot. Writes are
"latest wins": a flood of writes to one parameter costs one dict store each and leaves no backlog.

Values are floats on the wire (what OSC and MIDI deliver). Each parameter declares a kind:

- ``float``: clamped to ``[lo, hi]`` (ranges may extend past [0, 1] for overblend);
- ``int``: rounded, then clamped;
- ``bool``: any value > 0.5 is on;
- ``choice``: an index into ``choices``; the name itself is accepted too;
- ``trigger``: an event (panic, next seed, tap); each accepted write is one press, stamped with the
  registry's clock at receipt. The snapshot carries the presses since the previous snapshot, so the
  loop fires once per press (ten presses within one frame fire ten times), however the frames fall.

A control can **grab** a parameter: a spec with ``grabs = "blend.hold.3"`` sets that parameter to 1
in the same write (under the same lock, so no snapshot sees one without the other) whenever something
other than the show itself writes it (a fader, an OSC message, the page; not a preset, morph or panic,
whose sources start with :data:`SHOW_SOURCE`). The write that grabs lands at once, unsmoothed: the
value it would glide from was not in play. The grab itself is a change with the source
``(SHOW_SOURCE, "grab")``, so feedback reports it to every listener.

A ``readonly`` parameter is a measurement (``audio.level``, ...): its writer is an analyser (ours, or
one outside sending OSC to the same address), so the registry accepts writes as usual, but the
control page shows it as a meter, presets neither save nor recall it, MIDI learn and modulation
routes refuse it as a target.

NaN and infinities are rejected (the last good value stays), as is any value that is not a number.

Names and OSC addresses convert with :func:`address_of` / :func:`name_of` (``blend.layer.3`` <->
``/blend/layer/3``) and nowhere else. A control's own smoothing (a MIDI binding's ``smoothing``) is
an override kept by the registry (:meth:`ParamRegistry.set_smoothing`): specs are never mutated, and
a model swap that re-declares the parameters keeps it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..errors import NetblendError

KINDS = ("float", "int", "bool", "choice", "trigger")
SHOW_SOURCE = "show"     # first element of the source of every write the show makes itself


def from_show(source: object) -> bool:
    """Whether a write was made by the show itself (a preset recall, a morph, panic, a trigger's action)."""
    return isinstance(source, tuple) and bool(source) and source[0] == SHOW_SOURCE


class ParamError(NetblendError, ValueError):
    """A write the registry refuses: unknown name, wrong type, NaN/inf. The message says which."""


def address_of(name: str) -> str:
    """The canonical OSC address of a parameter: ``blend.layer.3`` -> ``/blend/layer/3``."""
    return "/" + name.replace(".", "/")


def name_of(address: str) -> str:
    """The parameter name of a canonical OSC address: ``/blend/layer/3`` -> ``blend.layer.3``."""
    return address.strip("/").replace("/", ".")


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
    grabs: str = ""                  # a parameter a control's write of this one sets to 1 (see above)

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
        return address_of(self.name)

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
class Write:
    """One accepted write, as the journal keeps it (see :meth:`ParamRegistry.record_writes`)."""

    name: str
    value: float
    source: object
    stamp: float                      # the registry clock at receipt (seconds)


@dataclass(frozen=True)
class Snapshot:
    """One frame's frozen view of every parameter (smoothed values, trigger presses)."""

    values: Mapping[str, float]
    triggers: Mapping[str, int]       # presses so far, per trigger
    version: int                      # bumps whenever any target value changed
    presses: Mapping[str, tuple[float, ...]] = field(default_factory=dict)  # since the last snapshot: stamps
    writes: tuple[Write, ...] = ()    # accepted writes since the last snapshot (only while journaling)

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
    _presses: dict[str, list[float]] = field(default_factory=dict)
    _smoothing: dict[str, float] = field(default_factory=dict)   # overrides by controls, kept across add()
    _journal: list[Write] | None = None
    _version: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    clock: Callable[[], float] = time.perf_counter               # stamps trigger presses and journal entries

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
                for d in (self._specs, self._targets, self._smoothed, self._triggers, self._changes,
                          self._presses):
                    d.pop(name, None)
            self._version += 1

    def set_smoothing(self, name: str, seconds: float | None) -> None:
        """Slew ``name`` over ``seconds`` instead of its spec's smoothing (``None`` restores the spec's).

        Kept when the parameter is re-declared (a model swap), so a mapping's smoothing holds."""
        with self._lock:
            if seconds is None:
                self._smoothing.pop(name, None)
            else:
                self._smoothing[name] = max(float(seconds), 0.0)

    def smoothing(self, name: str) -> float:
        """The slew time in effect for ``name`` (a control's override, else the spec's)."""
        return self._smoothing.get(name, self.spec(name).smoothing)

    def record_writes(self, on: bool = True) -> None:
        """Journal every accepted write; each snapshot then carries the writes it is the first to see
        (``Snapshot.writes``), so a recorder logs exactly what each frame saw."""
        with self._lock:
            self._journal = [] if on else None

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
        return self._specs.get(name_of(address))

    # ----------------------------------------------------------------- writes (any thread)
    def set(self, name: str, value: object, source: object = None, stamp: float | None = None) -> float:
        """Write the newest value; returns the value stored (clamped). Raises :class:`ParamError`.

        ``stamp`` (seconds on the registry's clock) dates a trigger press; default: now."""
        spec = self.spec(name)
        v = spec.coerce(value)
        when = self.clock() if stamp is None else float(stamp)
        with self._lock:
            if spec.grabs and not from_show(source) and self._grab(spec.grabs, when):
                self._smoothed[name] = v                 # the grabbing write is a cut, not a glide
            if spec.kind == "trigger":
                self._triggers[name] += 1
                self._presses.setdefault(name, []).append(when)
            elif self._targets[name] == v:
                return v
            self._targets[name] = v
            self._changes[name] = _Change(v, source)
            self._version += 1
            if self._journal is not None:
                self._journal.append(Write(name, v, source, when))
        return v

    def _grab(self, name: str, when: float) -> bool:
        """Set ``name`` to 1 at once (caller holds the lock); False when it is absent or already 1."""
        if self._targets.get(name, 1.0) == 1.0:
            return False
        self._targets[name] = self._smoothed[name] = 1.0
        self._changes[name] = _Change(1.0, (SHOW_SOURCE, "grab"))
        self._version += 1
        if self._journal is not None:
            self._journal.append(Write(name, 1.0, (SHOW_SOURCE, "grab"), when))
        return True

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
                if name in self._targets:
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
        """Advance smoothing by ``dt`` seconds and return a frozen view for one frame.

        Done under the lock (a few microseconds per parameter), so a :meth:`jump` from another
        thread is never overwritten by a slew computed from the values before it: a panic is a cut."""
        with self._lock:
            for name, target in self._targets.items():
                spec = self._specs[name]
                cur = self._smoothed.get(name, target)
                tau = self._smoothing.get(name, spec.smoothing)
                if tau > 0.0 and spec.kind == "float" and cur != target:
                    k = 1.0 - math.exp(-dt / tau) if dt > 0 else 0.0
                    cur += (target - cur) * k
                    if abs(target - cur) <= 1e-6 * max(1.0, abs(target)):
                        cur = target
                else:
                    cur = target
                self._smoothed[name] = cur
            presses = {n: tuple(p) for n, p in self._presses.items() if p}
            self._presses.clear()
            writes: tuple[Write, ...] = ()
            if self._journal:
                writes, self._journal = tuple(self._journal), []
            return Snapshot(MappingProxyType(dict(self._smoothed)), MappingProxyType(dict(self._triggers)),
                            self._version, MappingProxyType(presses), writes)


class ChangeFanout:
    """Lets several feedback senders (OSC, MIDI LEDs) share the registry's single change queue.

    Each :meth:`subscribe` returns a function that, like ``drain_changes``, gives the changes since
    that subscriber's previous call; no subscriber takes changes away from another.
    """

    def __init__(self, registry: ParamRegistry):
        self.registry = registry
        self._pending: list[dict[str, tuple[float, object]]] = []
        self._lock = threading.Lock()

    def subscribe(self) -> Callable[[], dict[str, tuple[float, object]]]:
        mine: dict[str, tuple[float, object]] = {}
        with self._lock:
            self._pending.append(mine)

        def drain() -> dict[str, tuple[float, object]]:
            with self._lock:
                fresh = self.registry.drain_changes()
                for pending in self._pending:
                    pending.update(fresh)
                out = dict(mine)
                mine.clear()
            return out

        return drain
