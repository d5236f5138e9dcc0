"""Presets: the live state of a show in a TOML file, saved atomically, recalled at once or morphed.

A preset file (``presets/<name>.toml``)::

    name = "dusk"
    description = "crossover at 32 px, a slow slerp walk"
    version = 1

    [models]                      # optional: which models to play; paths may be relative to this file
    a = "../models/ffhq-256.pkl"
    b = "../models/ukiyoe-256.pkl"

    [params]                      # registry values: masks (blend.*), latents (latent.*), walk, tempo
    "blend.layer.*" = 0.0         # a wildcard: every numbered parameter the current model has
    "blend.curve.amount" = 1.0
    "latent.walk.mode" = "slerp"  # choice parameters by name

    [latent]
    keyframes = [12, 40, "faces/me.npz"]   # walk keyframes: seeds or W/W+ files (relative allowed)

Recall is instant (``registry.update`` + ``jump``) or a :class:`Morph` over seconds or beats that the
render loop advances once per frame::

    morph = presets.recall("dusk", morph=4.0)          # also kept as presets.morph
    ...
    morph = presets.morph                              # in the loop, before the snapshot; one read,
    if morph is not None:                              # since a recall from a control thread may
        morph.step_frame(frame_time)                   # replace it (or morph.step(dt) / step(beats))

Float parameters move linearly from their values at the recall to the preset's; ints, bools and
choices switch at the halfway point. A parameter written by someone else during a morph (a fader)
leaves the morph: the performer's hand wins. Models and keyframes are not applied here: the engine
reads ``Preset.models`` / ``Preset.keyframes`` from the returned preset (loading models takes time
and happens off the render thread).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..core.clock import FrameTime
from ..core.params import ParamError, ParamRegistry, ParamSpec
from ..errors import PresetError
from .toml_read import read_toml
from .toml_write import write_atomic

log = logging.getLogger("netblend.presets")

PRESET_VERSION = 1
AUTOSAVE_NAME = ".autosave.toml"          # a dot name: never listed, never a user preset's name
NOT_SAVED_PREFIXES = ("engine.", "preset.")   # settings of the program, not of the show
_NAME = re.compile(r"^\w[\w .+-]{0,63}$")


def check_name(name: str) -> str:
    """A preset name that is safe as a file name in the preset folder; raises :class:`PresetError`.

    Letters, digits, ``_ . + -`` and spaces; 64 characters at most; not starting with a dot; a
    trailing ``.toml`` is dropped. Path tricks (``../x``, ``/etc/passwd``, ``a/b``, NUL) are refused.
    """
    if not isinstance(name, str):
        raise PresetError(f"a preset name must be text, not {type(name).__name__}")
    base = name[:-5] if name.endswith(".toml") else name
    if not _NAME.match(base) or base.endswith((" ", ".")) or ".." in base:
        raise PresetError(f"{name!r} is not a valid preset name; use letters, digits, spaces, _ . + - "
                          "(no slashes, no leading dot, at most 64 characters)")
    return base


def _read_toml(path: Path) -> dict:
    return read_toml(path, PresetError, "preset file",
                     f"no preset file {path}; `netblend run --preset` names one in the presets folder")


@dataclass
class Preset:
    """A parsed preset. ``models`` and ``keyframes`` hold paths resolved against the file's folder."""

    name: str
    params: dict[str, float | int | bool | str]
    models: dict[str, Path] = field(default_factory=dict)
    keyframes: list[int | Path] = field(default_factory=list)
    description: str = ""
    path: Path | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, object], path: Path) -> Preset:
        """Validate the structure of a parsed file; raises :class:`PresetError` naming the problem."""
        where = path.parent
        name = data.get("name", path.stem)
        description = data.get("description", "")
        params = data.get("params", {})
        models = data.get("models", {})
        latent = data.get("latent", {})
        if not isinstance(name, str) or not isinstance(description, str):
            raise PresetError(f"preset {path}: name and description must be strings")
        if not isinstance(params, dict) or not all(
                isinstance(v, (int, float, str)) for v in params.values()):
            raise PresetError(f"preset {path}: [params] must map names to numbers, booleans or choice names")
        if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
            raise PresetError(f"preset {path}: [models] must map labels to file paths (strings)")
        if not isinstance(latent, dict):
            raise PresetError(f"preset {path}: [latent] must be a table")
        keyframes = latent.get("keyframes", [])
        if not isinstance(keyframes, list) or not all(
                isinstance(k, str) or (isinstance(k, int) and not isinstance(k, bool) and k >= 0)
                for k in keyframes):
            raise PresetError(f"preset {path}: latent.keyframes must list seeds (integers >= 0) or W files")
        return cls(
            name=name,
            params=dict(params),
            models={label: _resolve(where, p) for label, p in models.items()},
            keyframes=[k if isinstance(k, int) else _resolve(where, k) for k in keyframes],
            description=description,
            path=path,
        )

    def to_dict(self, folder: Path) -> dict[str, object]:
        """The TOML document; paths inside ``folder`` are written relative to it."""
        doc: dict[str, object] = {"name": self.name, "description": self.description,
                                  "version": PRESET_VERSION}
        if self.models:
            doc["models"] = {label: _portable(p, folder) for label, p in self.models.items()}
        doc["params"] = dict(self.params)
        if self.keyframes:
            doc["latent"] = {"keyframes": [k if isinstance(k, int) else _portable(k, folder)
                                           for k in self.keyframes]}
        return doc

    def expanded(self, registry: ParamRegistry) -> dict[str, float | int | bool | str]:
        """``params`` with wildcard keys spread over ``registry``: ``"blend.layer.*" = 0.0`` sets every
        ``blend.layer.<i>`` the current model has (a preset then fits models of any layer count)."""
        out: dict[str, float | int | bool | str] = {}
        for name, value in self.params.items():
            if name.endswith(".*"):
                prefix = name[:-1]
                out.update({n: value for n in registry.names(prefix) if n[len(prefix):].isdigit()})
        out.update({n: v for n, v in self.params.items() if not n.endswith(".*")})
        return out

    def validate(self, registry: ParamRegistry) -> list[str]:
        """Problems recalling this preset on ``registry`` would log: unknown names, unusable values."""
        problems = [f"{n}: matches no numbered parameter of this show" for n in self.params
                    if n.endswith(".*") and f"{n[:-1]}0" not in registry]
        for name, value in self.expanded(registry).items():
            if name not in registry:
                problems.append(f"{name}: not a parameter of this show")
                continue
            try:
                registry.spec(name).coerce(value)
            except ParamError as e:
                problems.append(str(e))
        return problems


def _portable(path: Path, folder: Path) -> str:
    """Relative to ``folder`` when the file sits in it or beside it (``../models/a.pkl``), else absolute:
    a project folder with presets/ and models/ side by side can move as a whole."""
    if not path.is_absolute():
        return path.as_posix()
    try:
        rel = Path(os.path.relpath(path, folder))
    except ValueError:  # another drive on Windows
        return str(path)
    return rel.as_posix() if rel.parts.count("..") <= 1 else str(path)


def _resolve(folder: Path, text: str) -> Path:
    return Path(os.path.normpath(folder / text))


def _export(spec: ParamSpec, value: float) -> float | int | bool | str:
    if spec.kind == "choice":
        return spec.choices[int(value)]
    if spec.kind == "bool":
        return value > 0.5
    if spec.kind == "int":
        return int(value)
    return float(value)


class Morph:
    """A timed move of parameters from their current values to a preset's; advanced by the loop."""

    def __init__(self, registry: ParamRegistry, targets: Mapping[str, float], duration: float,
                 unit: str = "seconds", source: object = None):
        if unit not in ("seconds", "beats"):
            raise PresetError(f"morph unit {unit!r} must be 'seconds' or 'beats'")
        self.registry = registry
        self.duration = max(float(duration), 1e-9)
        self.unit = unit
        self.source = source
        self.elapsed = 0.0
        self._start = {n: registry.get(n) for n in targets}
        self._target = dict(targets)
        self._written: dict[str, float] = dict(self._start)
        self._discrete = {n for n in targets if registry.spec(n).kind != "float"}

    @property
    def done(self) -> bool:
        return self.elapsed >= self.duration

    @property
    def progress(self) -> float:
        return min(self.elapsed / self.duration, 1.0)

    def step(self, amount: float) -> bool:
        """Advance by ``amount`` seconds (or beats) and write the values; returns False once finished."""
        if self.done:
            return False
        self.elapsed += max(float(amount), 0.0)
        f = self.progress
        for name in list(self._target):
            if name not in self.registry or self.registry.get(name) != self._written[name]:
                del self._target[name]   # moved by a performer (or removed): it leaves the morph
                continue
            a, b = self._start[name], self._target[name]
            value = (b if f >= 0.5 else a) if name in self._discrete else (b if f >= 1.0 else a + (b - a) * f)
            self._written[name] = self.registry.set(name, value, self.source)
        self.registry.jump([n for n in self._target if n not in self._discrete])
        return not self.done

    def step_frame(self, frame_time: FrameTime) -> bool:
        """Advance by one frame: ``dt`` seconds, or the beats it spans at the frame's tempo."""
        return self.step(frame_time.dt if self.unit == "seconds" else frame_time.dt * frame_time.bpm / 60.0)


class PresetManager:
    """Saves, lists, loads and recalls the presets of one folder against one registry."""

    def __init__(self, folder: str | os.PathLike[str], registry: ParamRegistry,
                 live_state: Callable[[], Mapping[str, object]] | None = None):
        """``live_state()`` gives what the registry cannot: ``{"models": {label: path},
        "keyframes": [seed or path, ...]}`` of the show now playing (the engine provides it)."""
        self.folder = Path(folder)
        self.registry = registry
        self.live_state = live_state
        self.morph: Morph | None = None
        self._lock = threading.Lock()

    def path_of(self, name: str) -> Path:
        return self.folder / f"{check_name(name)}.toml"

    def list(self) -> list[str]:
        """The names of the presets in the folder, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.toml") if not p.name.startswith("."))

    def capture(self, name: str, description: str = "") -> Preset:
        """The live state as a :class:`Preset` (not written)."""
        values = self.registry.targets()
        params: dict[str, float | int | bool | str] = {}
        for spec in self.registry:
            if spec.kind == "trigger" or spec.name.startswith(NOT_SAVED_PREFIXES) or spec.name not in values:
                continue
            params[spec.name] = _export(spec, values[spec.name])
        live: Mapping[str, object] = self.live_state() if self.live_state is not None else {}
        models = live.get("models") or {}
        keyframes = live.get("keyframes") or []
        assert isinstance(models, Mapping) and isinstance(keyframes, (list, tuple)), "live_state() contract"
        return Preset(name, params,
                      models={str(label): Path(p) for label, p in models.items()},
                      keyframes=[k if isinstance(k, int) else Path(k) for k in keyframes],
                      description=description)

    def save(self, name: str, description: str = "") -> Path:
        """Write the live state as preset ``name``, atomically (a crash leaves the old file whole)."""
        path = self.path_of(name)
        return self._write(self.capture(check_name(name), description), path)

    def _write(self, preset: Preset, path: Path) -> Path:
        with self._lock:
            write_atomic(path, preset.to_dict(path.parent), header="netblend preset")
        return path

    def load(self, name: str) -> Preset:
        """Read and check preset ``name`` from the folder; raises :class:`PresetError`."""
        return self.load_path(self.path_of(name))

    @staticmethod
    def load_path(path: str | os.PathLike[str]) -> Preset:
        path = Path(path)
        return Preset.from_dict(_read_toml(path), path)

    def recall(self, name: str, morph_seconds: float | None = None, unit: str = "seconds") -> Preset:
        """Apply preset ``name``: at once, or as a :class:`Morph` over ``morph_seconds`` (or beats)."""
        return self.apply(self.load(name), morph_seconds, unit)

    def apply(self, preset: Preset, morph_seconds: float | None = None, unit: str = "seconds") -> Preset:
        """Apply an already loaded preset (see :meth:`recall`)."""
        source = ("preset", preset.name)
        for problem in preset.validate(self.registry):
            log.warning("preset %s: %s (skipped)", preset.name, problem)
        targets: dict[str, float] = {}
        for n, v in preset.expanded(self.registry).items():
            if n not in self.registry or self.registry.spec(n).kind == "trigger":
                continue  # a preset is state: it never fires a trigger (panic, snapshot)
            try:
                targets[n] = self.registry.spec(n).coerce(v)
            except ParamError:
                continue
        if morph_seconds is None or morph_seconds <= 0:
            self.morph = None
            self.registry.update(targets, source)
            self.registry.jump(targets)
        else:
            self.morph = Morph(self.registry, targets, morph_seconds, unit, source)
        return preset

    # ------------------------------------------------------------------ crash recovery
    def autosave(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the live state to ``path`` (default ``<folder>/.autosave.toml``) for ``--resume``."""
        target = Path(path) if path is not None else self.folder / AUTOSAVE_NAME
        return self._write(self.capture("autosave", "live state, saved automatically"), target)

    def restore(self, path: str | os.PathLike[str] | None = None) -> Preset | None:
        """Apply the autosaved state, if there is one (``netblend run --resume``)."""
        target = Path(path) if path is not None else self.folder / AUTOSAVE_NAME
        if not target.exists():
            return None
        return self.apply(self.load_path(target))


class Autosaver:
    """Saves the live state every ``interval`` seconds on its own thread, and once more on stop."""

    def __init__(self, presets: PresetManager, path: str | os.PathLike[str] | None = None,
                 interval: float = 30.0):
        self.presets = presets
        self.path = path
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _save(self) -> None:
        try:
            self.presets.autosave(self.path)
        except (OSError, PresetError) as e:  # a full disk must not stop the show
            log.warning("autosave failed: %s", e)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._save()

    def start(self) -> Autosaver:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="netblend-autosave", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and save one last time (the state at exit). Idempotent."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=10.0)
            self._thread = None
            self._save()

