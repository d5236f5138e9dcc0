"""Modulators: LFOs and envelope followers that move float parameters on top of their base values.

A performer's fader (or OSC, MIDI, a preset) sets a parameter's *base* value in the registry; the
modulators add to it every frame, after the registry's smoothing and before the render::

    snap = registry.snapshot(ft.dt)
    values = modulation.apply(snap.values, show_ft)     # a new mapping; the registry is untouched
    pixels = renderer.render(values, show_ft)

For each routed parameter the result is ``clamp(base + sum(route.depth * m), lo, hi)`` over every
modulator ``m`` routed to it, with ``[lo, hi]`` the parameter's declared range (overblend ranges
included; the blend safety range still applies downstream). The registry never sees a modulated
value, so a fader keeps its meaning and OSC/MIDI feedback shows the base.

Each modulator's output is ``m = depth * wave + offset``, where ``wave`` is the shape in [0, 1]
mapped by the polarity (bipolar ``2u - 1``, positive ``u``, negative ``-u``). LFO rates are in Hz
(the phase integrates the rate, so a rate change never jumps) or, with ``sync`` on, one cycle per
``beats`` of the tempo counted from the start or the last restart (locked to the beat grid). Random
shapes are seeded; with a fake clock the same show gives the same values every run.

Live parameters (``params(configs)``): ``mod.<name>.depth``, ``.offset``, ``.polarity`` and, for an
LFO, ``.shape``, ``.rate``, ``.sync``, ``.beats``, ``.phase``, ``.width``, ``.seed``, ``.restart``
(trigger); for an envelope follower ``.attack``, ``.release``, ``.gain``, ``.gate``.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import partial

from ..control.modulator_file import (
    MAX_BEATS,
    MAX_GAIN,
    MAX_LEVEL,
    MAX_RATE,
    MAX_SECONDS,
    MAX_SEED,
    POLARITIES,
    SHAPES,
    ModulatorConfig,
)
from ..core.clock import FrameTime
from ..core.params import ParamRegistry, ParamSpec
from ..errors import ModulationError
from .waves import unit_wave

log = logging.getLogger("netblend.modulation")

BIPOLAR, POSITIVE, NEGATIVE = range(3)


def params(configs: Sequence[ModulatorConfig]) -> list[ParamSpec]:
    """The live ``mod.<name>.*`` parameters of ``configs``, starting at the values the file wrote."""
    specs: list[ParamSpec] = []
    for c in configs:
        p = f"mod.{c.name}."
        specs += [
            ParamSpec(p + "depth", c.depth, -MAX_LEVEL, MAX_LEVEL, smoothing=0.05,
                      doc="master amount: scales every route of this modulator (0 = off)"),
            ParamSpec(p + "offset", c.offset, -MAX_LEVEL, MAX_LEVEL, smoothing=0.05,
                      doc="added to the wave before the route depths"),
            ParamSpec(p + "polarity", float(POLARITIES.index(c.polarity)), kind="choice", choices=POLARITIES,
                      doc="bipolar -1..1, positive 0..1, negative -1..0"),
        ]
        if c.type == "lfo":
            specs += [
                ParamSpec(p + "shape", float(SHAPES.index(c.shape)), kind="choice", choices=SHAPES,
                          doc="LFO wave shape"),
                ParamSpec(p + "rate", c.rate, 0.0, MAX_RATE, doc="cycles per second (sync off)"),
                ParamSpec(p + "sync", float(c.sync), kind="bool", doc="one cycle per `beats` of the tempo"),
                ParamSpec(p + "beats", c.beats, 1.0 / 64, MAX_BEATS, doc="beats per cycle (sync on)"),
                ParamSpec(p + "phase", c.phase, 0.0, 1.0, doc="phase offset, in cycles"),
                ParamSpec(p + "width", c.width, 0.0, 1.0, doc="square: fraction of the cycle spent high"),
                ParamSpec(p + "seed", float(c.seed), 0.0, MAX_SEED, kind="int", doc="random shapes' seed"),
                ParamSpec(p + "restart", kind="trigger", doc="start the cycle again now"),
            ]
        else:
            specs += [
                ParamSpec(p + "attack", c.attack, 0.0, MAX_SECONDS, doc="seconds to rise ~63 % of a step"),
                ParamSpec(p + "release", c.release, 0.0, MAX_SECONDS, doc="seconds to fall ~63 %"),
                ParamSpec(p + "gain", c.gain, 0.0, MAX_GAIN, doc="source gain (after the gate)"),
                ParamSpec(p + "gate", c.gate, 0.0, 1.0, doc="source values below this count as silence"),
            ]
    return specs


class _Modulator(ABC):
    """What LFOs and envelope followers share: names of their live values, polarity, depth, offset."""

    def __init__(self, config: ModulatorConfig):
        self.config = config
        p = f"mod.{config.name}."
        self._depth, self._offset, self._polarity = p + "depth", p + "offset", p + "polarity"
        self._default_polarity = float(POLARITIES.index(config.polarity))
        self.routes: tuple[tuple[int, float], ...] = ()       # (target index, depth), set by bind

    @abstractmethod
    def unit(self, values: Mapping[str, float], ft: FrameTime) -> float:
        """The shape's value in [0, 1] for this frame (advances the modulator's state)."""

    def output(self, values: Mapping[str, float], ft: FrameTime) -> float:
        """``depth * wave + offset`` for this frame."""
        u = self.unit(values, ft)
        polarity = round(values.get(self._polarity, self._default_polarity))
        wave = 2.0 * u - 1.0 if polarity == BIPOLAR else (u if polarity == POSITIVE else -u)
        c = self.config
        return values.get(self._depth, c.depth) * wave + values.get(self._offset, c.offset)


class Lfo(_Modulator):
    def __init__(self, config: ModulatorConfig):
        super().__init__(config)
        p = f"mod.{config.name}."
        self._shape, self._rate, self._sync, self._beats = p + "shape", p + "rate", p + "sync", p + "beats"
        self._phase, self._width, self._seed = p + "phase", p + "width", p + "seed"
        self._default_shape = float(SHAPES.index(config.shape))
        self.cycles = 0.0              # cycles since start or restart, integrated from the rate in Hz
        self.anchor_beat = 0.0         # the beat of the last restart (sync on)
        self.restart_pending = False

    def unit(self, values: Mapping[str, float], ft: FrameTime) -> float:
        c = self.config
        get = values.get
        if self.restart_pending:
            self.restart_pending = False
            self.cycles = 0.0
            self.anchor_beat = ft.beat
        else:
            self.cycles += get(self._rate, c.rate) * ft.dt
        if get(self._sync, float(c.sync)) > 0.5:
            cycles = (ft.beat - self.anchor_beat) / max(get(self._beats, c.beats), 1e-6)
        else:
            cycles = self.cycles
        return unit_wave(round(get(self._shape, self._default_shape)), cycles + get(self._phase, c.phase),
                         get(self._width, c.width), int(get(self._seed, c.seed)))


class EnvelopeFollower(_Modulator):
    def __init__(self, config: ModulatorConfig):
        super().__init__(config)
        p = f"mod.{config.name}."
        self._attack, self._release, self._gain, self._gate = (p + "attack", p + "release", p + "gain",
                                                                p + "gate")
        self.level = 0.0

    def unit(self, values: Mapping[str, float], ft: FrameTime) -> float:
        c = self.config
        get = values.get
        x = get(c.source, 0.0)
        if x < get(self._gate, c.gate):
            x = 0.0
        x = min(max(x * get(self._gain, c.gain), 0.0), 1.0)
        tau = get(self._attack, c.attack) if x > self.level else get(self._release, c.release)
        if tau <= 0.0:
            self.level = x
        elif ft.dt > 0.0:
            self.level += (x - self.level) * (1.0 - math.exp(-ft.dt / tau))
        return self.level


class Modulation:
    """The modulators of a show, bound to its parameters; :meth:`apply` runs once per frame.

    With no modulators, :meth:`apply` returns the snapshot's mapping itself: nothing is copied.
    """

    def __init__(self, configs: Sequence[ModulatorConfig] = (), registry: ParamRegistry | None = None):
        self.configs = tuple(configs)
        self.modulators: list[_Modulator] = [Lfo(c) if c.type == "lfo" else EnvelopeFollower(c)
                                             for c in self.configs]
        self.by_name = {m.config.name: m for m in self.modulators}
        self._targets: tuple[tuple[str, float, float], ...] = ()     # (name, lo, hi)
        self._sums: list[float] = []
        self._zeros: list[float] = []
        self._holds: tuple[str, ...] = ()     # a route to a layer's fader holds that layer (it plays the fader)
        if registry is not None:
            self.bind(registry)

    def __bool__(self) -> bool:
        return bool(self.modulators)

    def params(self) -> list[ParamSpec]:
        """The live ``mod.*`` parameters (declare them in the registry before the show starts)."""
        return params(self.configs)

    # ------------------------------------------------------------------ binding to a show
    def bind(self, registry: ParamRegistry) -> None:
        """Check every route and source against ``registry``; raises :class:`ModulationError`."""
        problems = self._resolve(registry)
        if problems:
            raise ModulationError(problems[0])

    def rebind(self, registry: ParamRegistry) -> list[str]:
        """After a model swap: routes whose parameter is gone are dropped (logged), the rest kept.
        Returns the problems (one line each). Call it on the render thread, between frames."""
        problems = self._resolve(registry, drop=True)
        for line in problems:
            log.warning("modulation route dropped: %s", line)
        return problems

    def _resolve(self, registry: ParamRegistry, drop: bool = False) -> list[str]:
        problems: list[str] = []
        targets: dict[str, int] = {}
        resolved: list[tuple[_Modulator, tuple[tuple[int, float], ...]]] = []
        for mod in self.modulators:
            c = mod.config
            if c.type == "envelope" and c.source not in registry:
                problems.append(f"{c.describe()}: source {c.source!r} is not a parameter of this show; "
                                "`netblend osc` lists the names")
            routes = []
            for i, route in enumerate(c.routes, 1):
                problem = _route_problem(registry, route.param)
                if problem:
                    problems.append(f"{c.describe()} route #{i}: {problem}")
                    continue
                routes.append((targets.setdefault(route.param, len(targets)), route.depth))
            resolved.append((mod, tuple(routes)))
        if problems and not drop:
            return problems
        specs = [registry.spec(name) for name in targets]
        self._targets = tuple((s.name, s.lo, s.hi) for s in specs)
        self._zeros = [0.0] * len(self._targets)
        self._sums = list(self._zeros)
        self._holds = tuple(s.grabs for s in specs if s.grabs and s.grabs in registry)
        for mod, bound in resolved:
            mod.routes = bound
        return problems

    # ------------------------------------------------------------------ per frame (render thread)
    def apply(self, values: Mapping[str, float], ft: FrameTime) -> Mapping[str, float]:
        """The frame's values with modulation added to the routed parameters, each clamped to its range.

        ``values`` is the snapshot's mapping (base values, after smoothing); it is not modified. No I/O,
        no allocation beyond the returned dict; deterministic for a given sequence of frame times."""
        if not self.modulators:
            return values
        sums = self._sums
        sums[:] = self._zeros
        for mod in self.modulators:
            m = mod.output(values, ft)
            for target, depth in mod.routes:
                sums[target] += depth * m
        out = dict(values)
        for (name, lo, hi), delta in zip(self._targets, sums):
            base = values.get(name)
            if base is not None:
                v = base + delta
                out[name] = lo if v < lo else (hi if v > hi else v)
        for name in self._holds:
            out[name] = 1.0
        return out

    # ------------------------------------------------------------------ triggers
    def restart(self, name: str) -> None:
        """Start LFO ``name`` from its phase on the next frame (no effect on envelope followers)."""
        mod = self.by_name.get(name)
        if isinstance(mod, Lfo):
            mod.restart_pending = True

    def trigger_actions(self) -> dict[str, Callable[[], None]]:
        """Actions for the loop's triggers: ``mod.<name>.restart`` for every LFO."""
        return {f"mod.{m.config.name}.restart": partial(self.restart, m.config.name)
                for m in self.modulators if isinstance(m, Lfo)}


def _route_problem(registry: ParamRegistry, name: str) -> str | None:
    if name not in registry:
        return f"unknown parameter {name!r}; `netblend osc` lists the names"
    spec = registry.spec(name)
    if name.startswith("mod."):
        return f"{name} belongs to a modulator; route modulators to show parameters"
    if spec.readonly:
        return f"{name} is a measured value (read-only); use it as an envelope's source instead"
    if spec.kind != "float":
        return f"{name} is a {spec.kind} parameter; modulators drive float parameters only"
    return None
