"""The ``[[mod]]`` tables of preset and mapping files: LFOs and envelope followers, and their routes.

A modulator is declared once and routed to one or more float parameters; its live parameters
(``mod.<name>.rate``, ``.depth``, ...) start at the values written here::

    [[mod]]
    name = "sway"                   # letters, digits, _ and -: the live names are mod.sway.*
    type = "lfo"                    # lfo | envelope
    shape = "sine"                  # sine | triangle | saw-up | saw-down | square | sample-hold | smooth-random
    sync = true                     # true: one cycle per `beats` of the tempo; false: `rate` in Hz
    beats = 8.0
    rate = 0.25
    phase = 0.0                     # 0..1 of a cycle
    width = 0.5                     # square: the fraction of the cycle spent high
    seed = 7                        # sample-hold, smooth-random: the same seed gives the same values
    polarity = "bipolar"            # bipolar (-1..1) | positive (0..1) | negative (-1..0)
    depth = 1.0                     # scales every route (the live master amount)
    offset = 0.0                    # added to the wave before the route depth
    route = [ { param = "blend.curve.center", depth = 0.2 } ]

    [[mod]]
    name = "kick"
    type = "envelope"
    source = "audio.low"            # any parameter: audio.* features, a fader, another value
    attack = 0.005                  # seconds to rise ~63 % of a step
    release = 0.3                   # seconds to fall ~63 %
    gain = 4.0                      # applied after the gate; the envelope stays within 0..1
    gate = 0.02                     # source values below this count as silence
    route = [ { param = "blend.layer.3", depth = 1.0 } ]

Route targets are checked against a show's parameters when the modulators are bound
(:class:`engine.show.modulators.Modulation`); everything else is checked here. Every problem is one
:class:`~engine.errors.ModulationError` line naming the file, the entry and the fix.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ModulationError
from .toml_read import read_toml

TYPES = ("lfo", "envelope")
SHAPES = ("sine", "triangle", "saw-up", "saw-down", "square", "sample-hold", "smooth-random")
POLARITIES = ("bipolar", "positive", "negative")
MAX_RATE = 50.0          # Hz
MAX_BEATS = 256.0        # beats per cycle
MAX_SECONDS = 30.0       # attack / release
MAX_GAIN = 100.0
MAX_LEVEL = 4.0          # |depth|, |offset| of a modulator
MAX_SEED = 2 ** 32 - 1

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_COMMON_KEYS = {"name", "type", "depth", "offset", "polarity", "route"}
_LFO_KEYS = _COMMON_KEYS | {"shape", "rate", "sync", "beats", "phase", "width", "seed"}
_ENVELOPE_KEYS = _COMMON_KEYS | {"source", "attack", "release", "gain", "gate"}
_ROUTE_KEYS = {"param", "depth"}


@dataclass(frozen=True)
class Route:
    param: str                       # a float parameter of the show
    depth: float                     # in the parameter's units: what a full-scale wave adds


@dataclass(frozen=True)
class ModulatorConfig:
    name: str
    routes: tuple[Route, ...]
    type: str = "lfo"                # one of TYPES
    depth: float = 1.0               # live master amount (scales every route)
    offset: float = 0.0              # added to the wave before the route depths
    polarity: str = ""               # one of POLARITIES; "" = bipolar (LFO), positive (envelope)
    # LFO
    shape: str = "sine"              # one of SHAPES
    rate: float = 0.25               # Hz (sync off)
    sync: bool = False               # on: one cycle per `beats` of the tempo
    beats: float = 4.0               # beats per cycle (sync on)
    phase: float = 0.0               # 0..1 of a cycle
    width: float = 0.5               # square: fraction of the cycle spent high
    seed: int = 0                    # random shapes
    # envelope follower
    source: str = ""                 # the parameter followed
    attack: float = 0.01             # seconds
    release: float = 0.25            # seconds
    gain: float = 1.0
    gate: float = 0.0                # source values below it count as 0
    origin: str = ""                 # "presets/x.toml: [[mod]] #2 (sway)", for messages

    def __post_init__(self) -> None:
        if not self.polarity:
            object.__setattr__(self, "polarity", "bipolar" if self.type == "lfo" else "positive")

    def describe(self) -> str:
        return self.origin or f"[[mod]] {self.name}"


def mod_table(config: ModulatorConfig) -> dict[str, Any]:
    """A ``[[mod]]`` table for ``config`` (what a saved preset writes; :func:`parse_mods` reads it back)."""
    keys = ["name", "type", "depth", "offset", "polarity"]
    keys += (["shape", "rate", "sync", "beats", "phase", "width", "seed"] if config.type == "lfo"
             else ["source", "attack", "release", "gain", "gate"])
    table: dict[str, Any] = {key: getattr(config, key) for key in keys}
    table["route"] = [{"param": r.param, "depth": r.depth} for r in config.routes]
    return table


def load_mods(path: str | Path) -> tuple[ModulatorConfig, ...]:
    """The ``[[mod]]`` tables of a preset or mapping file (empty when it has none)."""
    path = Path(path)
    data = read_toml(path, ModulationError, "file", f"{path}: no such file")
    return parse_mods(data, path)


def parse_mods(data: dict, path: str | Path = "<mods>") -> tuple[ModulatorConfig, ...]:
    """Validate the ``mod`` array of already-parsed TOML; raises :class:`ModulationError`."""
    raw = data.get("mod", [])
    name = Path(path).name
    if not isinstance(raw, list):
        raise ModulationError(f"{name}: 'mod' must be an array of tables; write [[mod]]")
    mods = tuple(_parse_mod(entry, i + 1, name) for i, entry in enumerate(raw))
    seen: dict[str, str] = {}
    for mod in mods:
        if mod.name in seen:
            raise ModulationError(f"{mod.describe()}: the name is already used by {seen[mod.name]}; "
                                  "give each modulator its own name")
        seen[mod.name] = mod.describe()
    return mods


def _parse_mod(raw: object, index: int, file: str) -> ModulatorConfig:
    where = f"{file}: [[mod]] #{index}"
    if not isinstance(raw, dict):
        raise ModulationError(f"{where}: must be a table with name, type and route keys")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ModulationError(f"{where}: name = {name!r} must start with a letter and use letters, "
                              "digits, _ and - (32 at most); it becomes mod.<name>.*")
    where = f"{where} ({name})"
    kind = _choice(raw, "type", TYPES, "lfo", where)
    allowed = _LFO_KEYS if kind == "lfo" else _ENVELOPE_KEYS
    for key in raw:
        if key not in allowed:
            raise ModulationError(f"{where}: unknown key {key!r} for type = {kind!r}; "
                                  f"allowed: {', '.join(sorted(allowed))}")
    common: dict[str, Any] = dict(
        name=name, type=kind, routes=_routes(raw.get("route"), where),
        depth=_number(raw, "depth", -MAX_LEVEL, MAX_LEVEL, 1.0, where),
        offset=_number(raw, "offset", -MAX_LEVEL, MAX_LEVEL, 0.0, where),
        polarity=_choice(raw, "polarity", POLARITIES, "bipolar" if kind == "lfo" else "positive", where),
        origin=where,
    )
    if kind == "lfo":
        sync = raw.get("sync", False)
        seed = raw.get("seed", 0)
        if not isinstance(sync, bool):
            raise ModulationError(f"{where}: sync = {sync!r} must be true or false")
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise ModulationError(f"{where}: seed = {seed!r} must be an integer in 0..{MAX_SEED}")
        return ModulatorConfig(
            **common, shape=_choice(raw, "shape", SHAPES, "sine", where),
            rate=_number(raw, "rate", 0.0, MAX_RATE, 0.25, where), sync=sync,
            beats=_number(raw, "beats", 1.0 / 64, MAX_BEATS, 4.0, where),
            phase=_number(raw, "phase", 0.0, 1.0, 0.0, where),
            width=_number(raw, "width", 0.0, 1.0, 0.5, where), seed=seed,
        )
    source = raw.get("source")
    if not isinstance(source, str) or not source:
        raise ModulationError(f"{where}: an envelope needs source = a parameter name, e.g. 'audio.low'")
    return ModulatorConfig(
        **common, source=source,
        attack=_number(raw, "attack", 0.0, MAX_SECONDS, 0.01, where),
        release=_number(raw, "release", 0.0, MAX_SECONDS, 0.25, where),
        gain=_number(raw, "gain", 0.0, MAX_GAIN, 1.0, where),
        gate=_number(raw, "gate", 0.0, 1.0, 0.0, where),
    )


def _routes(raw: object, where: str) -> tuple[Route, ...]:
    example = 'route = [ { param = "blend.curve.center", depth = 0.2 } ]'
    if raw is None:
        raise ModulationError(f"{where}: no route; add {example}")
    if not isinstance(raw, list) or not raw:
        raise ModulationError(f"{where}: route must be a non-empty array of tables, e.g. {example}")
    routes = []
    for i, entry in enumerate(raw, 1):
        at = f"{where} route #{i}"
        if not isinstance(entry, dict):
            raise ModulationError(f"{at}: must be a table like {{ param = \"blend.layer.3\", depth = 0.5 }}")
        for key in entry:
            if key not in _ROUTE_KEYS:
                raise ModulationError(f"{at}: unknown key {key!r}; allowed: param, depth")
        param = entry.get("param")
        if not isinstance(param, str) or not param:
            raise ModulationError(f"{at}: missing param; set param = a parameter name (`netblend osc` lists them)")
        if "depth" not in entry:
            raise ModulationError(f"{at} ({param}): missing depth; set depth = how far a full wave moves it")
        routes.append(Route(param, _number(entry, "depth", -1e6, 1e6, 0.0, f"{at} ({param})")))
    return tuple(routes)


def _choice(raw: dict, key: str, allowed: tuple[str, ...], default: str, where: str) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise ModulationError(f"{where}: {key} = {value!r} is not one of {', '.join(allowed)}")
    return value


def _number(raw: dict, key: str, lo: float, hi: float, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise ModulationError(f"{where}: {key} = {value!r} must be a number in {lo:g}..{hi:g}")
    return float(value)
