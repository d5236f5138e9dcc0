"""The preset file: the live state of a show as TOML, and the rules for reading one safely.

A preset file (``<name>.toml`` in a presets folder; ``docs/presets.md`` documents every key)::

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

Reading is defensive: only regular files, at most :data:`MAX_PRESET_BYTES`, a UTF-8 byte-order mark
(Windows Notepad) accepted, one-line :class:`~engine.errors.PresetError` for anything else.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..control.modulator_file import ModulatorConfig, mod_table, parse_mods
from ..control.toml_read import TOMLDecodeError, loads
from ..core.params import ParamError, ParamRegistry, ParamSpec
from ..errors import ModulationError, PresetError

PRESET_VERSION = 1
MAX_PRESET_BYTES = 256 * 1024             # presets are a few KB; a bigger file is not one
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


def read_preset_file(path: str | os.PathLike[str]) -> dict:
    """The parsed TOML of a preset file, or :class:`PresetError` naming the file, problem and fix.

    Only a regular file up to :data:`MAX_PRESET_BYTES` is read (a FIFO, a device or a huge file is
    refused without reading it), so a bad name can never block or flood the caller."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise PresetError(f"no preset file {path}; `netblend run --preset` names one in the presets folder") from None
    except OSError as e:
        raise PresetError(f"{path}: cannot open the preset file ({e.strerror or e})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PresetError(f"{path}: not a regular file; a preset is a .toml file")
        if info.st_size > MAX_PRESET_BYTES:
            raise PresetError(f"{path}: {info.st_size} bytes is too big for a preset "
                              f"(at most {MAX_PRESET_BYTES // 1024} KB)")
        data = os.read(fd, MAX_PRESET_BYTES + 1)
    finally:
        os.close(fd)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise PresetError(f"{path}: the preset file is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        return loads(text)
    except TOMLDecodeError as e:
        raise PresetError(f"{path}: the preset file is not valid TOML ({e}); fix the syntax at that line") from None
    except RecursionError:
        raise PresetError(f"{path}: the preset file nests too deeply to be a preset") from None


@dataclass
class Preset:
    """A parsed preset. ``models`` and ``keyframes`` hold paths resolved against the file's folder."""

    name: str
    params: dict[str, float | int | bool | str]
    models: dict[str, Path] = field(default_factory=dict)
    keyframes: list[int | Path] = field(default_factory=list)
    description: str = ""
    path: Path | None = None
    mods: tuple[ModulatorConfig, ...] = ()          # [[mod]] tables: LFOs and envelope followers

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> Preset:
        """Read and check a preset file (see :func:`read_preset_file`)."""
        path = Path(path)
        return cls.from_dict(read_preset_file(path), path)

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
        try:
            mods = parse_mods(dict(data), path)
        except ModulationError as e:
            raise PresetError(str(e)) from None
        return cls(
            name=name,
            params=dict(params),
            models={label: _resolve(where, p) for label, p in models.items()},
            keyframes=[k if isinstance(k, int) else _resolve(where, k) for k in keyframes],
            description=description,
            path=path,
            mods=mods,
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
        if self.mods:
            doc["mod"] = [mod_table(m) for m in self.mods]
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


def export_value(spec: ParamSpec, value: float) -> float | int | bool | str:
    if spec.kind == "choice":
        return spec.choices[int(value)]
    if spec.kind == "bool":
        return value > 0.5
    if spec.kind == "int":
        return int(value)
    return float(value)
