"""Mapping files: declarative TOML that binds MIDI controls and OSC aliases to registry parameters.

``load_mapping(path)`` parses and validates one file (schema in docs/architecture.md "Control") and
returns a frozen :class:`Mapping`. Every problem raises :class:`engine.errors.MappingError` whose one
line names the file, the binding and the fix. Nothing in a mapping file is ever executed.

Beyond the basic schema, a binding may carry ``led_on`` / ``led_off`` (0-127): the velocity or CC
value sent to the control's LED for on and off (devices colour their LEDs by velocity). One table can
stand for several bindings (range rows, ``engine.control.mapping_rows``), and bindings can belong to a
``bank`` that buttons select (``action = "bank"`` latches it, ``action = "shift"`` holds it), so eight
faders reach every layer of a model. docs/mappings.md describes the whole format.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import MappingError
from .mapping_checks import check_banks, check_duplicates
from .mapping_rows import expand_row
from .modulator_file import ModulatorConfig, parse_mods
from .toml_read import read_toml

CONTROLS = ("cc", "cc14", "nrpn", "note", "pitchbend", "clock")
CURVES = ("linear", "exp", "log", "scurve")
TAKEOVERS = ("pickup", "jump")
MODES = ("absolute", "relative-twos", "relative-offset", "relative-signbit")
BUTTONS = ("momentary", "toggle", "trigger")
ACTIONS = ("panic", "tap", "save", "bank", "shift")
BANK_ACTIONS = ("bank", "shift")
NRPN_CCS = (6, 38, 98, 99)      # data entry MSB/LSB, parameter number LSB/MSB

_MIDI_KEYS = {"control", "channel", "number", "lsb", "param", "range", "curve", "smoothing", "invert",
              "takeover", "mode", "button", "value", "preset", "action", "led", "led_on", "led_off", "bank",
              "index"}
_DEVICE_KEYS = {"name", "port", "output", "verified", "notes", "bank"}
_OSC_KEYS = {"address", "param", "range", "index"}
MAX_REGEX = 200                 # characters in a port pattern (a port name is far shorter)
# Parameters only some models have: layers past the model's count, extra models, one family's latents.
MODEL_DEPENDENT = re.compile(r"^(blend\.(layer|model)\.\d+|latent\.(noise\.(mode|strength)|xform\.(x|y|angle)|class))$")
_TOP_KEYS = {"device", "midi", "osc", "mod"}


@dataclass(frozen=True)
class DeviceInfo:
    name: str = ""
    port: str | None = None         # regex matched (case-insensitive search) against input port names
    output: str | None = None       # regex of the output port for LED feedback
    verified: bool = False          # true only once tested on the hardware
    notes: str = ""
    bank: str | None = None         # the bank active at start (default: the first one in the file)


@dataclass(frozen=True)
class MidiBinding:
    control: str                          # one of CONTROLS
    param: str | None = None              # registry name (None when preset/action)
    channel: int | None = None            # 1-16; None = any channel
    number: int | None = None             # cc / note / nrpn parameter number; cc14: the MSB controller
    lsb: int | None = None                # cc14: the LSB controller (number + 32 unless given)
    range: tuple[float, float] = (0.0, 1.0)
    curve: str = "linear"
    smoothing: float | None = None        # seconds; None keeps the parameter's own smoothing
    invert: bool = False
    takeover: str = "pickup"
    mode: str = "absolute"
    button: str | None = None             # momentary | toggle | trigger; None = continuous control
    value: float | None = None            # buttons: the value written on press
    preset: str | None = None             # buttons: recall (or, with action = "save", save) this preset
    action: str | None = None             # buttons: panic | tap | save | bank | shift
    led: bool = False
    led_on: int = 127
    led_off: int = 0
    index: int = 0                        # position among the file's bindings (1-based), unique
    bank: str | None = None               # acts only while this bank is active (None: always)
    select: str | None = None             # action bank/shift: the bank it selects
    row: str = ""                         # the table in the file, e.g. "3" or "3.5" for a range row

    def describe(self) -> str:
        """``[[midi]] #3 (cc 16, channel 1)`` style label used in messages."""
        where = self.control if self.number is None else f"{self.control} {self.number}"
        chan = "any channel" if self.channel is None else f"channel {self.channel}"
        bank = "" if self.bank is None else f", bank {self.bank!r}"
        return f"[[midi]] #{self.row or self.index} ({where}, {chan}{bank})"

    @property
    def is_button(self) -> bool:
        """Pressed/released rather than positioned: notes, and CCs with a button, preset or action."""
        return self.control == "note" or bool(self.button or self.preset or self.action)

    @property
    def target(self) -> str:
        """What the binding drives, for listings."""
        if self.select:
            return f"{self.action} {self.select}"
        if self.action:
            return f"action {self.action}" + (f" {self.preset}" if self.preset else "")
        if self.preset:
            return f"preset {self.preset}"
        return str(self.param)

    def cc_numbers(self) -> tuple[int, ...]:
        """The controller numbers this binding listens to (empty for non-CC controls)."""
        if self.control == "cc":
            return (int(self.number or 0),)
        if self.control == "cc14":
            return (int(self.number or 0), int(self.lsb if self.lsb is not None else (self.number or 0) + 32))
        if self.control == "nrpn":
            return NRPN_CCS
        return ()


@dataclass(frozen=True)
class OscAlias:
    address: str                              # e.g. "/td/fader1"
    param: str                                # registry name
    range: tuple[float, float] | None = None  # incoming 0..1 scaled into this range; None = raw


@dataclass(frozen=True)
class Mapping:
    path: Path
    device: DeviceInfo
    midi: tuple[MidiBinding, ...]
    osc: tuple[OscAlias, ...]
    mods: tuple[ModulatorConfig, ...] = ()     # [[mod]] tables: LFOs and envelope followers

    def params(self) -> set[str]:
        """Every registry name the file refers to."""
        return {b.param for b in self.midi if b.param} | {a.param for a in self.osc}

    @property
    def banks(self) -> list[str]:
        """The banks bindings belong to, in file order."""
        return list(dict.fromkeys(b.bank for b in self.midi if b.bank is not None))

    @property
    def start_bank(self) -> str | None:
        """The bank active when the mapping is loaded."""
        banks = self.banks
        return self.device.bank if self.device.bank is not None else (banks[0] if banks else None)

    def unknown_params(self, registry) -> list[str]:
        """One line per binding whose parameter ``registry`` lacks (the adapter skips those), with the
        name it is probably a typo of; the bindings for parameters only other models have (layers past
        this model's count, the other family's latents) are summed up in one line."""
        from .suggest import did_you_mean

        names = registry.names()
        out, elsewhere = [], []
        missing = [(b.describe(), str(b.param)) for b in self.midi if b.param and b.param not in registry]
        missing += [(f"[[osc]] {a.address}", a.param) for a in self.osc
                    if a.param not in registry and f"{a.param}.0" not in registry]
        for where, param in missing:
            if MODEL_DEPENDENT.match(param):
                elsewhere.append(param)
            else:
                out.append(f"{self.path.name}: {where}: unknown parameter {param!r}{did_you_mean(param, names)}")
        if elsewhere:
            shown = ", ".join(sorted(set(elsewhere), key=_natural)[:6]) + (", ..." if len(set(elsewhere)) > 6 else "")
            out.append(f"{self.path.name}: {len(elsewhere)} bindings for parameters this model does not have "
                       f"({shown}); they work with a model that has them")
        return out


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in name.split("."))


def find_mapping(name: str | Path) -> Path:
    """A mapping file by path, or a shipped one by name (``nanokontrol2`` or ``nanokontrol2.toml``, from
    the installed ``share/netblend/mappings`` too); the path as given when neither exists."""
    path = Path(name)
    if path.exists() or len(path.parts) > 1:
        return path
    from ..core.paths import shipped_dir

    shipped = shipped_dir("mappings") / (path.name if path.suffix == ".toml" else f"{path.name}.toml")
    return shipped if shipped.is_file() else path


def shipped_mappings() -> list[str]:
    """The names of the shipped mapping files."""
    from ..core.paths import shipped_dir

    return sorted(p.stem for p in shipped_dir("mappings").glob("*.toml"))


def load_mapping(path: str | Path) -> Mapping:
    """Read and validate a mapping file (a path, or a shipped map's name); raise :class:`MappingError`
    naming the file, binding and fix."""
    path = find_mapping(path)
    if not path.exists():
        from .suggest import closest

        shipped = shipped_mappings()
        match = closest(path.stem, shipped, cutoff=0.6)
        hint = f"did you mean {match!r}? " if match else ""
        raise MappingError(f"{path}: no such file; {hint}give a mapping file's path or a shipped map's name: "
                           f"{', '.join(shipped)}")
    data = read_toml(path, MappingError, "mapping file", f"{path}: no such mapping file")
    return parse_mapping(data, path)


def parse_mapping(data: dict, path: str | Path = "<mapping>") -> Mapping:
    """Validate already-parsed TOML data (``load_mapping`` without the file read)."""
    path = Path(path)
    _unknown_keys(data, _TOP_KEYS, f"{path}", "top-level key")
    device = _parse_device(data.get("device", {}), path)
    midi_raw = data.get("midi", [])
    osc_raw = data.get("osc", [])
    if not isinstance(midi_raw, list) or not isinstance(osc_raw, list):
        raise MappingError(f"{path}: 'midi' and 'osc' must be arrays of tables; write [[midi]] / [[osc]]")
    midi_rows = _expand(midi_raw, "midi", path)
    osc_rows = _expand(osc_raw, "osc", path)
    midi = tuple(_parse_binding(raw, i + 1, path, row) for i, (row, raw) in enumerate(midi_rows))
    osc = tuple(_parse_alias(raw, row, path) for row, raw in osc_rows)
    check_duplicates(midi, osc, path)
    check_banks(midi, device, path)
    return Mapping(path, device, midi, osc, parse_mods(data, path))


def _expand(tables: list, kind: str, path: Path) -> list[tuple[str, object]]:
    """``(row label, table)`` for every binding, range rows expanded (labels "3" or "3.5")."""
    out: list[tuple[str, object]] = []
    for number, raw in enumerate(tables, 1):
        if not isinstance(raw, dict):
            out.append((str(number), raw))
            continue
        rows = expand_row(raw, f"{path.name}: [[{kind}]] #{number}")
        out += [(str(number) if len(rows) == 1 else f"{number}.{j}", row) for j, row in enumerate(rows, 1)]
    return out


# ----------------------------------------------------------------------------- parsing helpers
def _unknown_keys(table: dict, allowed: set[str], where: str, what: str) -> None:
    for key in table:
        if key not in allowed:
            raise MappingError(f"{where}: unknown {what} {key!r}; allowed: {', '.join(sorted(allowed))}")


def _parse_device(raw: object, path: Path) -> DeviceInfo:
    if not isinstance(raw, dict):
        raise MappingError(f"{path}: [device] must be a table; write [device] with name/port keys")
    _unknown_keys(raw, _DEVICE_KEYS, f"{path}: [device]", "key")
    for key in ("port", "output"):
        if key in raw:
            _check_regex(raw[key], f"{path}: [device] {key}")
    bank = raw.get("bank")
    if bank is not None and (not isinstance(bank, str) or not bank):
        raise MappingError(f"{path}: [device] bank must be the name of a bank")
    return DeviceInfo(name=str(raw.get("name", path.stem)), port=raw.get("port"), output=raw.get("output"),
                      verified=bool(raw.get("verified", False)), notes=str(raw.get("notes", "")), bank=bank)


def _check_regex(value: object, where: str) -> None:
    if not isinstance(value, str) or not value:
        raise MappingError(f"{where}: must be a non-empty string (a port name or regex)")
    if len(value) > MAX_REGEX:
        raise MappingError(f"{where}: the pattern is {len(value)} characters long; a port name or short "
                           f"regex (at most {MAX_REGEX}) is enough")
    try:
        re.compile(value)
    except re.error as e:
        raise MappingError(f"{where}: {value!r} is not a valid regex ({e}); escape special characters") \
            from None
    except (RecursionError, OverflowError, MemoryError):
        raise MappingError(f"{where}: the pattern nests too deeply to be a port name; simplify it") from None


def _choice(raw: dict, key: str, allowed: tuple[str, ...], default: str | None, where: str) -> str | None:
    value = raw.get(key, default)
    if value is not None and value not in allowed:
        raise MappingError(f"{where}: {key} = {value!r} is not one of {', '.join(allowed)}")
    return value


def _int(raw: dict, key: str, lo: int, hi: int, where: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise MappingError(f"{where}: {key} = {value!r} must be an integer in {lo}..{hi}")
    return value


def _range(value: object, where: str) -> tuple[float, float]:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  for v in value))
    if not ok or value[0] == value[1]:  # type: ignore[index]
        raise MappingError(f"{where}: range = {value!r} must be two different finite numbers, "
                           "e.g. [0.0, 1.0]")
    return float(value[0]), float(value[1])  # type: ignore[index]


_NUMBER_LIMITS = {"cc": 127, "cc14": 31, "note": 127, "nrpn": 16383}


def _parse_binding(raw: object, index: int, path: Path, row: str = "") -> MidiBinding:
    where = f"{path.name}: [[midi]] #{row or index}"
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: must be a table with control/number/param keys")
    _unknown_keys(raw, _MIDI_KEYS, where, "key")
    control, channel, number, lsb = _control(raw, where)
    where = f"{path.name}: [[midi]] #{row or index} ({control}{'' if number is None else f' {number}'})"
    param, preset, action, bank, button = _target(raw, control, where)
    mode, smoothing, value, led = _behaviour(raw, control, where)
    if control == "clock" and not param:
        raise MappingError(f"{where}: a clock binding needs param (usually 'tempo.bpm')")
    return MidiBinding(
        control=control, param=param, channel=channel, number=number, lsb=lsb,
        range=_range(raw["range"], where) if "range" in raw else (0.0, 1.0),
        curve=_choice(raw, "curve", CURVES, "linear", where) or "linear",
        smoothing=smoothing, invert=bool(raw.get("invert", False)),
        takeover=_choice(raw, "takeover", TAKEOVERS, "pickup", where) or "pickup",
        mode=mode, button=button, value=value, preset=preset, action=action, led=led,
        led_on=_default(_int(raw, "led_on", 0, 127, where), 127),
        led_off=_default(_int(raw, "led_off", 0, 127, where), 0),
        index=index, row=row,
        bank=None if action in BANK_ACTIONS else bank, select=bank if action in BANK_ACTIONS else None,
    )


def _control(raw: dict, where: str) -> tuple[str, int | None, int | None, int | None]:
    """``control``, ``channel``, ``number`` and (14-bit CC) ``lsb`` of a binding, checked together."""
    control = _choice(raw, "control", CONTROLS, None, where)
    if control is None:
        raise MappingError(f"{where}: missing control; set control = one of {', '.join(CONTROLS)}")
    channel = _int(raw, "channel", 1, 16, where)
    number = None
    if control in _NUMBER_LIMITS:
        number = _int(raw, "number", 0, _NUMBER_LIMITS[control], where)
        if number is None:
            raise MappingError(f"{where}: {control} needs number = 0..{_NUMBER_LIMITS[control]}")
    elif "number" in raw:
        raise MappingError(f"{where}: {control} takes no number; remove it")
    lsb = _int(raw, "lsb", 0, 127, where)
    if lsb is not None and control != "cc14":
        raise MappingError(f"{where}: lsb only applies to control = 'cc14'; remove it")
    if control == "cc14" and (lsb if lsb is not None else (number or 0) + 32) == number:
        raise MappingError(f"{where}: lsb equals the MSB controller; use a different lsb")
    return control, channel, number, lsb


def _target(raw: dict, control: str, where: str):
    """What a binding drives: ``param``, ``preset``, ``action`` (exactly one), its ``bank`` and ``button``."""
    param, preset, action = raw.get("param"), raw.get("preset"), _choice(raw, "action", ACTIONS, None, where)
    for key, val in (("param", param), ("preset", preset)):
        if val is not None and (not isinstance(val, str) or not val):
            raise MappingError(f"{where}: {key} must be a non-empty string")
    if action == "save" and not preset:
        raise MappingError(f"{where}: action = 'save' needs preset = NAME (the preset to write)")
    bank = raw.get("bank")
    if bank is not None and (not isinstance(bank, str) or not bank):
        raise MappingError(f"{where}: bank must be the name of a bank, e.g. bank = \"layers 8-15\"")
    if action in BANK_ACTIONS and bank is None:
        raise MappingError(f"{where}: action = {action!r} needs bank = NAME (the bank it selects)")
    targets = [k for k, v in (("param", param), ("preset", preset if action != "save" else None),
                              ("action", action)) if v]
    if len(targets) != 1:
        raise MappingError(f"{where}: needs exactly one of param / preset / action "
                           f"(found {', '.join(targets) or 'none'})")
    button = _choice(raw, "button", BUTTONS, None, where)
    if (preset or action) and button not in (None, "trigger"):
        raise MappingError(f"{where}: a preset/action binding is a trigger button; "
                           f"remove button = {button!r}")
    if (preset or action) and control not in ("cc", "note"):
        raise MappingError(f"{where}: presets and actions need a button (control = 'cc' or 'note')")
    if button and control not in ("cc", "note"):
        raise MappingError(f"{where}: button needs control = 'cc' or 'note', not {control!r}")
    return param, preset, action, bank, button


def _behaviour(raw: dict, control: str, where: str) -> tuple[str, float | None, float | None, bool]:
    """``mode``, ``smoothing``, ``value`` and ``led`` of a binding."""
    mode = _choice(raw, "mode", MODES, "absolute", where) or "absolute"
    if mode != "absolute" and control != "cc":
        raise MappingError(f"{where}: relative encoders need control = 'cc'; set mode = 'absolute'")
    smoothing = raw.get("smoothing")
    if smoothing is not None and (isinstance(smoothing, bool) or not isinstance(smoothing, (int, float))
                                  or not 0 <= smoothing <= 60):
        raise MappingError(f"{where}: smoothing = {smoothing!r} must be seconds in 0..60")
    value = raw.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value)):
        raise MappingError(f"{where}: value = {value!r} must be a finite number")
    led = raw.get("led", False)
    if not isinstance(led, bool):
        raise MappingError(f"{where}: led must be true or false")
    return (mode, None if smoothing is None else float(smoothing), None if value is None else float(value), led)


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


def _parse_alias(raw: object, index: int | str, path: Path) -> OscAlias:
    where = f"{path.name}: [[osc]] #{index}"
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: must be a table with address/param keys")
    _unknown_keys(raw, _OSC_KEYS, where, "key")
    address, param = raw.get("address"), raw.get("param")
    if not isinstance(address, str) or not address.startswith("/") or len(address) < 2:
        raise MappingError(f"{where}: address = {address!r} must be an OSC address starting with '/'")
    if not isinstance(param, str) or not param:
        raise MappingError(f"{where} ({address}): missing param; set param = a registry name")
    rng = _range(raw["range"], f"{where} ({address})") if "range" in raw else None
    return OscAlias(address, param, rng)
