"""OSC adapter: OSC packets in, registry writes and :class:`Actions` calls out. No sockets here.

Addresses (what a TouchDesigner OSC Out CHOP, TouchOSC or Max sends):

- every parameter at its canonical address, the dotted name with ``/``: ``/blend/layer/3 0.7`` (one
  float; ints and bools are fine, a choice parameter also takes its choice name as a string);
- list form at the common prefix of numbered parameters: ``/blend/layer 0.1 0.2 0.3`` writes
  ``blend.layer.0 .. 2`` (extra values past the last layer are ignored);
- aliases from mapping files (``[[osc]]`` tables): ``/td/fader1`` -> ``blend.layer.3``, with an optional
  ``range`` that scales an incoming 0..1 into the parameter's units;
- actions: ``/preset/recall s [f]`` (name, optional morph time), ``/preset/save s``, ``/tempo/tap``,
  ``/blend/panic``. A button sends 1 on press and 0 on release; only the press fires.

Bad input never raises out of :meth:`OscAdapter.handle_packet`: malformed packets, wrong types, NaN and
infinities are counted and dropped (the last good value stays); out-of-range values are clamped by the
registry; unknown addresses are counted and logged once each. Timetags are ignored: a bundle stamped in
the future applies now (TouchDesigner stamps its bundles), via ``Dispatcher(strict_timing=False)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pythonosc.dispatcher import Dispatcher, Handler

from ..core.params import ParamError, ParamRegistry
from ..errors import MappingError
from .actions import Actions
from .mapping import OscAlias, load_mapping

log = logging.getLogger("netblend.osc")

ACTION_ADDRESSES = {
    "/preset/recall": "recall a preset by name; optional second argument: morph time",
    "/preset/save": "save the live state as a preset (name)",
    "/tempo/tap": "one tap of tap tempo (fires on a press: no argument or a value > 0.5)",
    "/blend/panic": "return to the last preset / model A at once (fires on a press)",
    "/midi/learn": "bind the next MIDI control moved to a parameter (name, e.g. blend.layer.3)",
}
MAX_ARGUMENTS = 256             # per message; more is garbage here and costs ~2.5 us each to parse
MAX_COUNTED_ADDRESSES = 256     # distinct unknown addresses counted one by one (the total is always counted)
MAX_LOGGED = 20                 # distinct problems logged; a random-address flood cannot flood the log


@dataclass
class OscStats:
    """What the adapter has seen; read by the overlay and the tests (written by the server thread only)."""

    packets: int = 0
    messages: int = 0
    applied: int = 0
    rejected: int = 0          # known address, unusable value (wrong type, NaN/inf)
    unknown: int = 0           # messages to addresses that match nothing
    malformed: int = 0         # packets that do not parse as OSC
    unknown_addresses: dict[str, int] = field(default_factory=dict)   # the first MAX_COUNTED_ADDRESSES


def osc_source(client_address: Sequence[object]) -> tuple[str, str, int]:
    """The registry ``source`` of a write that came from ``(host, port)``."""
    return ("osc", str(client_address[0]), int(client_address[1]))  # type: ignore[call-overload]


def _name_of(address: str) -> str:
    return address.strip("/").replace("/", ".")


def _is_press(args: Sequence[object]) -> bool:
    if not args:
        return True
    first = args[0]
    if isinstance(first, str):
        return True
    try:
        return float(first) > 0.5  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def arguments_within(packet: bytes, limit: int, depth: int = 0) -> bool:
    """Whether every message in ``packet`` (a message or nested bundles) has at most ``limit`` arguments.

    Counts type tags without parsing anything; structure errors are left for the parser to report.
    """
    if packet.startswith(b"#bundle\x00"):
        if depth > 8:
            return False
        i = 16  # after "#bundle\0" and the 8-byte timetag
        while i + 4 <= len(packet):
            size = int.from_bytes(packet[i:i + 4], "big", signed=True)
            if size <= 0 or i + 4 + size > len(packet):
                return True
            if not arguments_within(packet[i + 4:i + 4 + size], limit, depth + 1):
                return False
            i += 4 + size
        return True
    comma = packet.find(b",")  # ',' cannot appear in an OSC address: the first one starts the type tags
    if comma < 0:
        return True
    end = packet.find(b"\x00", comma)
    return (len(packet) if end < 0 else end) - comma - 1 <= limit


def _morph_of(args: Sequence[object]) -> float | None:
    """The optional morph time after a preset name: a finite number >= 0, else an instant recall."""
    if len(args) < 2 or isinstance(args[1], (str, bytes)):
        return None
    try:
        morph = float(args[1])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return morph if math.isfinite(morph) and morph > 0 else None


class _AdapterDispatcher(Dispatcher):
    """python-osc's dispatcher with timetags ignored and one handler for every address.

    The adapter resolves addresses itself with dict lookups, so the per-message regex that
    ``Dispatcher.handlers_for_address`` compiles (one per distinct address) is skipped.
    """

    def __init__(self, handler: Handler):
        super().__init__(strict_timing=False)
        self._handler = handler

    def handlers_for_address(self, address_pattern: str):  # type: ignore[no-untyped-def]
        yield self._handler


class _PythonOscNoise(logging.Filter):
    """python-osc logs a root-logger warning for every malformed packet; a flood would flood the log.
    The adapter counts those packets and logs once instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pythonosc" not in record.pathname


_PYTHON_OSC_NOISE = _PythonOscNoise()


def quiet_python_osc() -> None:
    """Drop python-osc's per-packet warnings from the root logger (idempotent)."""
    root = logging.getLogger()
    if _PYTHON_OSC_NOISE not in root.filters:
        root.addFilter(_PYTHON_OSC_NOISE)


class OscAdapter:
    """Turns OSC packets (bytes) or messages (address, args) into registry writes and actions."""

    def __init__(self, registry: ParamRegistry, actions: Actions | None = None,
                 aliases: Iterable[OscAlias] = ()):
        self.registry = registry
        self.actions = actions if actions is not None else Actions()
        self.aliases: dict[str, OscAlias] = {}
        self.stats = OscStats()
        self._logged: set[str] = set()
        for alias in aliases:
            self.add_alias(alias)
        self.dispatcher = _AdapterDispatcher(Handler(self._on_message, [], True))
        quiet_python_osc()

    def add_alias(self, alias: OscAlias) -> None:
        """Register an alias; raises :class:`MappingError` when its target does not exist."""
        address = "/" + alias.address.strip("/")
        if not self._target_exists(alias.param):
            raise MappingError(f"OSC alias {address}: {alias.param!r} is not a parameter of this show; "
                               "`netblend osc` lists the names")
        self.aliases[address] = alias

    def _target_exists(self, name: str) -> bool:
        return (name in self.registry or f"{name}.0" in self.registry
                or "/" + name.replace(".", "/") in ACTION_ADDRESSES)

    # ------------------------------------------------------------------ entry points
    def handle_packet(self, data: bytes, client_address: tuple[str, int]) -> None:
        """Apply one UDP datagram (a message or a bundle). Never raises."""
        self.stats.packets += 1
        # OSC packets are whole 32-bit words (a truncated one would parse as junk); a message with
        # thousands of arguments would hold this thread for milliseconds: both are dropped unparsed.
        if len(data) % 4 or not arguments_within(data, MAX_ARGUMENTS):
            self.stats.malformed += 1
            self._log_once("<malformed>", "dropped a malformed or oversized OSC packet from %s", client_address)
            return
        try:
            self.dispatcher.call_handlers_for_packet(data, client_address)
        except Exception as e:  # arbitrary bytes can trip the parser in ways it does not wrap
            self.stats.malformed += 1
            self._log_once("<malformed>", "dropped a malformed OSC packet from %s: %s", client_address, e)

    def _on_message(self, client_address: tuple[str, int], address: str, *args: object) -> None:
        self.handle_message(address, args, client_address)

    def handle_message(self, address: str, args: Sequence[object], client_address: tuple[str, int]) -> bool:
        """Apply one message; returns whether anything was written or fired. Never raises."""
        self.stats.messages += 1
        try:
            return self._apply(address, args, client_address)
        except ParamError as e:
            self.stats.rejected += 1
            self._log_once(address, "OSC %s ignored: %s", address, e)
        except Exception as e:  # a bug in an action must not stop the server thread
            self.stats.rejected += 1
            self._log_once(address, "OSC %s failed: %s", address, e)
        return False

    # ------------------------------------------------------------------ resolution
    def _apply(self, address: str, args: Sequence[object], client_address: tuple[str, int]) -> bool:
        alias = self.aliases.get(address)
        if alias is not None:
            address = "/" + alias.param.replace(".", "/")
            if alias.range is not None:
                args = [self._scale(a, alias.range) for a in args]
        if address in ACTION_ADDRESSES:
            return self._action(address, args)
        registry = self.registry
        spec = registry.by_address(address)
        if spec is not None:
            if spec.kind == "trigger":
                if not _is_press(args):
                    return False  # the release of a button
                args = (1.0,)
            elif not args:
                raise ParamError(f"{spec.name}: a value is needed")
            registry.set(spec.name, args[0], osc_source(client_address))
            self.stats.applied += 1
            return True
        prefix = _name_of(address)
        if args and f"{prefix}.0" in registry:
            return self._apply_list(prefix, args, client_address)
        self._unknown(address)
        return False

    def _apply_list(self, prefix: str, args: Sequence[object], client_address: tuple[str, int]) -> bool:
        source = osc_source(client_address)
        errors = 0
        for i, value in enumerate(args):
            name = f"{prefix}.{i}"
            if name not in self.registry:
                break  # more values than layers: the rest is ignored
            try:
                self.registry.set(name, value, source)
            except ParamError as e:
                errors += 1
                self._log_once("/" + prefix.replace(".", "/"), "OSC list %s: %s", prefix, e)
        self.stats.applied += 1 if errors == 0 else 0
        self.stats.rejected += 1 if errors else 0
        return errors < len(args)

    def _action(self, address: str, args: Sequence[object]) -> bool:
        if address == "/preset/recall":
            if args and isinstance(args[0], str):
                self.actions.recall_preset(args[0], _morph_of(args))
            elif "preset.recall" in self.registry and args:
                self.registry.set("preset.recall", args[0])
            else:
                raise ParamError("/preset/recall needs a preset name (a string)")
        elif address == "/preset/save":
            if not args or not isinstance(args[0], str):
                raise ParamError("/preset/save needs a preset name (a string)")
            self.actions.save_preset(args[0])
        elif address == "/midi/learn":
            if not args or not isinstance(args[0], str):
                raise ParamError("/midi/learn needs a parameter name (a string), e.g. blend.layer.3")
            self.actions.learn_midi(args[0])
        elif not _is_press(args):
            return False  # the release of a button
        elif address == "/tempo/tap":
            self.actions.tap_tempo()
        else:
            self.actions.panic()
        self.stats.applied += 1
        return True

    @staticmethod
    def _scale(value: object, value_range: tuple[float, float]) -> object:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = value_range
            return lo + float(value) * (hi - lo)
        return value

    # ------------------------------------------------------------------ bookkeeping
    def _unknown(self, address: str) -> None:
        self.stats.unknown += 1
        seen = self.stats.unknown_addresses
        if address in seen:
            seen[address] += 1
        elif len(seen) < MAX_COUNTED_ADDRESSES:
            seen[address] = 1
            self._log_once(address, "unknown OSC address %s (counted, logged once); `netblend osc` lists "
                           "the addresses", address)

    def _log_once(self, key: str, fmt: str, *args: object) -> None:
        if key in self._logged or len(self._logged) > MAX_LOGGED:
            return
        self._logged.add(key)
        if len(self._logged) > MAX_LOGGED:
            log.warning("more bad OSC input: counted, no longer logged (see the OSC statistics)")
        else:
            log.warning(fmt, *args)


# ---------------------------------------------------------------------- mapping files
def load_osc_aliases(path: str | Path) -> list[OscAlias]:
    """The ``[[osc]]`` aliases of a mapping file (parsed and validated by ``engine.control.mapping``)."""
    return list(load_mapping(path).osc)
