"""The preset file: the live state of a show as TOML, and the rules for reading one safely.

A preset file (``<name>.toml`` in a presets folder; ``docs/presets.md`` documents every key)::

    name = "dusk"
    description = "crossover at 32 px, a slow slerp walk"
    version = 2

    mask = "crossover@32:width=1"  # the blend in the mask syntax, laid on the model playing at recall

    [models]                      # optional: which models to play; paths may be relative to this file
    a = "../models/ffhq-256.pkl"
    b = "../models/ukiyoe-256.pkl"

    [params]                      # registry values: masks (blend.*), latents (latent.*), walk, tempo
    "blend.layer.3" = 0.7         # layer 3 at 0.7 (held by its fader); the others follow the curve
    "latent.walk.mode" = "slerp"  # choice parameters by name

    [latent]
    keyframes = [12, 40, "faces/me.npz"]   # walk keyframes: seeds or W/W+ files (relative allowed)

What a recall writes is :meth:`Preset.expanded`: the mask's values for the current layer table, then
``[params]`` (wildcards spread over the registry), then the layer rule: a preset that describes the
layers (a ``mask``, any ``blend.layer.*`` or ``blend.curve.*`` value) sets every layer, held at the value
it gives or handed to the curve. Version 1 files (per-layer values were offsets on the curve) are
converted to what they showed. Reading is defensive: only regular files, at most
:data:`MAX_PRESET_BYTES`, a UTF-8 byte-order mark (Windows Notepad) accepted, one-line
:class:`~engine.errors.PresetError` for anything else.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..blend.masks import LAYER_MODES, MaskError, curve_of, fader, hold
from ..blend.spec import check_mask, mask_values
from ..control.modulator_file import ModulatorConfig, mod_table, parse_mods
from ..control.toml_read import TOMLDecodeError, loads
from ..core.params import ParamError, ParamRegistry, ParamSpec
from ..errors import ModulationError, PresetError

PRESET_VERSION = 2                        # 2: per-layer values are t (0 = A, 1 = B); 1: offsets on the curve
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
    mask: str = ""                                  # the blend in the mask syntax (engine.blend.spec)
    version: int = PRESET_VERSION                   # 1: per-layer values were offsets on the curve

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
        version, mask = _version_and_mask(data, path)
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
            mask=mask,
            version=version,
        )

    def to_dict(self, folder: Path) -> dict[str, object]:
        """The TOML document; paths inside ``folder`` are written relative to it."""
        doc: dict[str, object] = {"name": self.name, "description": self.description,
                                  "version": self.version}
        if self.mask:
            doc["mask"] = self.mask
        if self.models:
            doc["models"] = {label: _portable(p, folder) for label, p in self.models.items()}
        doc["params"] = dict(self.params)
        if self.keyframes:
            doc["latent"] = {"keyframes": [k if isinstance(k, int) else _portable(k, folder)
                                           for k in self.keyframes]}
        if self.mods:
            doc["mod"] = [mod_table(m) for m in self.mods]
        return doc

    # ------------------------------------------------------------------ what a recall writes
    def named(self, registry: ParamRegistry) -> dict[str, float | int | bool | str]:
        """``[params]`` with wildcard keys spread over ``registry``: ``"blend.layer.*" = 0.0`` sets every
        ``blend.layer.<i>`` the current model has, ``"blend.hold.*"`` every hold (a ``*`` stands for a
        number). Explicit names win over wildcards."""
        out: dict[str, float | int | bool | str] = {}
        for name, value in self.params.items():
            if "*" in name:
                out.update({n: value for n in wildcard_names(name, registry)})
        out.update({n: v for n, v in self.params.items() if "*" not in n})
        return out

    def expanded(self, registry: ParamRegistry, layers: Sequence[object] | None = None
                 ) -> dict[str, float | int | bool | str]:
        """Every value a recall of this preset writes on ``registry`` for a model with layer table
        ``layers``: the mask (skipped when it does not fit ``layers``: :meth:`validate` says why), then
        :meth:`named`, then the layer rule (see the module docstring)."""
        out: dict[str, float | int | bool | str] = {}
        if self.mask and layers is not None:
            try:
                out.update(mask_values(self.mask, layers)[0])
            except MaskError:
                pass
        given = self.named(registry)
        out.update(given)
        count = layer_count(registry)
        if self.version < 2:
            return _from_offsets(out, given, registry, count)
        describes = bool(self.mask) or any(n.startswith(DESCRIBES_LAYERS) for n in self.params)
        offsets = given.get("blend.layer.mode", LAYER_MODES[0]) not in (0, LAYER_MODES[0])
        if not describes or offsets:               # nothing about the layers, or faders meant as offsets
            return out
        out["blend.layer.mode"] = LAYER_MODES[0]
        for i in range(count):
            if hold(i) not in given:
                out[hold(i)] = 1.0 if fader(i) in given else out.get(hold(i), 0.0)
        return _released_at_curve(out, given, registry, count)

    def layer_values(self, registry: ParamRegistry, layers: Sequence[object]) -> dict[str, float | int | bool | str]:
        """The part of :meth:`expanded` that depends on the layer table: every per-layer value, and the
        curve when a mask placed it (``crossover@32`` on 18 layers is not on 14). A recall that swaps
        models writes these again once the new models play."""
        prefixes = (*PER_LAYER, "blend.curve.") if self.mask else PER_LAYER
        return {n: v for n, v in self.expanded(registry, layers).items() if n.startswith(prefixes)}

    def validate(self, registry: ParamRegistry, layers: Sequence[object] | None = None) -> list[str]:
        """Problems recalling this preset on ``registry`` (and a model with layer table ``layers``)
        would log: a mask that does not fit the model, unknown names, unusable values."""
        problems = [f"{n}: matches no numbered parameter of this show" for n in self.params
                    if "*" in n and not wildcard_names(n, registry)]
        if self.mask:
            try:
                if layers is None:
                    raise MaskError("needs the model's layer table (recall it in a show)")
                mask_values(self.mask, layers)
            except MaskError as e:
                problems.append(f"mask {self.mask!r}: {e}")
        for name, value in self.expanded(registry, layers).items():
            if name not in registry:
                problems.append(f"{name}: not a parameter of this show")
                continue
            try:
                registry.spec(name).coerce(value)
            except ParamError as e:
                problems.append(str(e))
        return problems


PER_LAYER = ("blend.layer.", "blend.hold.")                   # names of per-layer values (and the fader mode)
DESCRIBES_LAYERS = (*PER_LAYER, "blend.curve.")               # [params] names that make a preset set every layer


def wildcard_names(pattern: str, registry: ParamRegistry) -> list[str]:
    """The names of ``registry`` that ``pattern`` (one ``*`` standing for a number) matches."""
    head, _, tail = pattern.partition("*")
    return [n for n in registry.names(head)
            if n.endswith(tail) and n[len(head):len(n) - len(tail)].isdigit()]


def layer_count(registry: ParamRegistry) -> int:
    """How many layers the show's model has (its ``blend.layer.<i>`` faders)."""
    return len(wildcard_names("blend.layer.*", registry))


def _version_and_mask(data: Mapping[str, object], path: Path) -> tuple[int, str]:
    version = data.get("version", 1)           # files from before the version key are version 1
    mask = data.get("mask", "")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= PRESET_VERSION:
        raise PresetError(f"preset {path}: version {version!r} is not one this netblend reads "
                          f"(1..{PRESET_VERSION}); a newer netblend wrote it")
    if not isinstance(mask, str):
        raise PresetError(f"preset {path}: mask must be a string like \"crossover@32:width=1\"")
    if mask and version < 2:
        raise PresetError(f"preset {path}: a mask needs version = 2 (per-layer values then mean t, not offsets)")
    try:
        if mask:
            check_mask(mask)
    except MaskError as e:
        raise PresetError(f"preset {path}: {e}") from None
    return version, mask


def _curve_now(out: Mapping[str, object], registry: ParamRegistry, count: int) -> list[float]:
    """The curve a recall leaves: the preset's ``blend.curve.*``, the registry's for the rest."""
    names = [n for n in registry.names("blend.curve.")]
    current: dict[str, object] = {n: registry.get(n) for n in names}
    current.update({n: v for n, v in out.items() if n.startswith("blend.curve.")})
    try:
        return curve_of(current, count)
    except MaskError:                             # a bad value: validate() names it
        return [0.0] * count


def _released_at_curve(out: dict, given: Mapping[str, object], registry: ParamRegistry, count: int) -> dict:
    """Faders of layers handed to the curve (and not given) sit where the curve puts their layer, so
    soft takeover picks them up there and feedback shows where the layer is."""
    c = _curve_now(out, registry, count)
    for i in range(count):
        if fader(i) not in given and _number(out.get(hold(i), 0.0)) == 0.0:
            out[fader(i)] = c[i]
    return out


def _from_offsets(out: dict, given: Mapping[str, object], registry: ParamRegistry, count: int) -> dict:
    """A version 1 preset as it was meant: t = curve + offset. A layer with an offset becomes a held
    layer at that t; a layer at offset 0 follows the curve."""
    if not any(fader(i) in given for i in range(count)):
        return out
    c = _curve_now(out, registry, count)
    out["blend.layer.mode"] = LAYER_MODES[0]
    for i in range(count):
        offset = _number(given.get(fader(i)))
        if offset is None:
            continue
        out[fader(i)], out[hold(i)] = (c[i] + offset, 1.0) if offset != 0.0 else (c[i], 0.0)
    return out


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    return None


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
