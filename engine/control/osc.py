"""OSC adapter: OSC packets in, registry writes and :class:`Actions` calls out. No sockets here.

Addresses (what a TouchDesigner OSC Out CHOP, TouchOSC or Max sends):

- every parameter at its canonical address, the dotted name with ``/``: ``/blend/layer/3 0.7`` (one
  float; ints and bools are fine, a choice parameter also takes its choice name as a string);
- list form at the common prefix of numbered parameters: ``/blend/layer 0.1 0.2 0.3`` writes
  ``blend.layer.0 .. 2`` (extra values past the last layer are ignored);
- aliases from mapping files (``[[osc]]`` tables): ``/td/fader1`` -> ``blend.layer.3``, with an optional
  ``range`` that scales an incoming 0..1 into the parameter's units;
- actions: ``/preset/recall s [f]`` (name, optional morph time), ``/preset/save s``, ``/tempo/tap``,
  ``/blend/panic``, ``/midi/learn s``; queries ``/engine/describe`` and ``/engine/dump``
  (``engine.control.osc_query``).

Buttons (triggers and the tap/panic actions) fire once per press, on the rising edge, per address and
sender; a message with no argument is a bang and always fires (``engine.control.buttons`` has the
re-arm rule for senders that never send a release).

A batch of datagrams (:meth:`OscAdapter.handle_datagrams`, one server turn) keeps only the newest
message per value address and every press up to a bound (``engine.control.osc_packets``).

Bad input never raises out of the adapter: malformed packets, wrong types, NaN and infinities are
counted and dropped (the last good value stays); out-of-range values are clamped by the registry;
unknown addresses are counted, and logged once each within a budget per kind of problem, so junk
cannot hide a real typo: a near miss of a real address is logged with "did you mean".
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pythonosc.osc_message import OscMessage

from ..core.params import ParamError, ParamRegistry, address_of, name_of
from ..errors import MappingError
from .actions import Actions
from .buttons import PressDetector
from .mapping import MODEL_DEPENDENT, OscAlias, load_mapping
from .osc_addresses import ACTION_ADDRESSES, DESCRIBE_ADDRESS, DUMP_ADDRESS
from .osc_packets import EVENT, UNKNOWN, VALUE, MalformedPacket, TurnBuffer
from .osc_query import OscReplies
from .osc_table import address_rows
from .suggest import closest

log = logging.getLogger("netblend.osc")

MAX_ARGUMENTS = 256             # per message; more is garbage here and costs ~2.5 us each to parse
MAX_COUNTED_ADDRESSES = 256     # distinct unknown addresses counted one by one (the total is always counted)
LOG_BUDGETS = {"unknown": 16, "near-miss": 64, "rejected": 16, "malformed": 4, "failed": 16}
NEAR_MISS_CHECKS = 256          # "did you mean" lookups per second at most (~20 us each; a random-address flood)
NEAR_MISS_MEMORY = 4096         # addresses whose lookup is remembered

Sender = tuple[str, int]


@dataclass
class OscStats:
    """What the adapter has seen; read by the overlay and the tests (written by the server thread only)."""

    packets: int = 0
    messages: int = 0
    applied: int = 0
    rejected: int = 0          # known address, unusable value (wrong type, NaN/inf)
    unknown: int = 0           # messages to addresses that match nothing
    malformed: int = 0         # packets that do not parse as OSC
    superseded: int = 0        # value messages replaced by a newer one within a turn (never parsed)
    dropped_presses: int = 0   # button messages past the per-turn bound
    unknown_addresses: dict[str, int] = field(default_factory=dict)   # the first MAX_COUNTED_ADDRESSES


def osc_source(client_address: Sequence[object]) -> tuple[str, str, int]:
    """The registry ``source`` of a write that came from ``(host, port)``."""
    return ("osc", str(client_address[0]), int(client_address[1]))  # type: ignore[call-overload]


def button_level(args: Sequence[object]) -> bool | None:
    """A button message's state: True held (> 0.5), False released, None a bang (no number)."""
    if not args or isinstance(args[0], (str, bytes)):
        return None
    try:
        return float(args[0]) > 0.5  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def arguments_within(packet: bytes, limit: int) -> bool:
    """Whether one message has at most ``limit`` arguments (counts type tags, parses nothing)."""
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


class ProblemLog:
    """Warnings about bad input: once per key, with a separate budget per kind of problem, so a flood
    of junk addresses cannot use up the lines a real typo needs."""

    def __init__(self, budgets: dict[str, int] | None = None):
        self.budgets = dict(budgets or LOG_BUDGETS)
        self._logged: dict[str, set[str]] = {}

    def warn(self, kind: str, key: str, fmt: str, *args: object) -> None:
        logged = self._logged.setdefault(kind, set())
        budget = self.budgets.get(kind, 16)
        if key in logged or len(logged) > budget:
            return
        logged.add(key)
        if len(logged) > budget:
            log.warning("more %s OSC input: counted, no longer logged (see the OSC statistics)", kind)
        else:
            log.warning(fmt, *args)


class OscAdapter:
    """Turns OSC packets (bytes) or messages (address, args) into registry writes and actions."""

    def __init__(self, registry: ParamRegistry, actions: Actions | None = None,
                 aliases: Iterable[OscAlias] = (), replies: OscReplies | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.registry = registry
        self.actions = actions if actions is not None else Actions()
        self.replies = replies if replies is not None else OscReplies()
        self.aliases: dict[str, OscAlias] = {}
        self.stats = OscStats()
        self.problems = ProblemLog()
        self.clock = clock
        self.buttons = PressDetector(clock=clock)
        self._near_miss_window = (-1e9, 0)      # (second it started, lookups in it)
        self._checked: dict[str, str] = {}       # unknown address -> the real one it is close to, or ""
        self._known: tuple[tuple[int, int], list[str]] = ((-1, -1), [])
        for alias in aliases:
            self.add_alias(alias)

    def add_alias(self, alias: OscAlias) -> None:
        """Register an alias; raises :class:`MappingError` when its target is no parameter of any show.

        A target only some models have (``blend.layer.17`` on a 14-layer model, StyleGAN2's noise on a
        StyleGAN3) is kept: it works once a model that has it plays."""
        address = "/" + alias.address.strip("/")
        if not self._target_exists(alias.param):
            if not MODEL_DEPENDENT.match(alias.param):
                from .suggest import did_you_mean

                hint = did_you_mean(alias.param, self.registry.names())
                raise MappingError(f"OSC alias {address}: {alias.param!r} is not a parameter of this show"
                                   f"{hint or '; `netblend osc` lists the names'}")
            log.info("OSC alias %s: this model has no %s (the alias works with a model that has)",
                     address, alias.param)
        self.aliases[address] = alias

    def _target_exists(self, name: str) -> bool:
        return name in self.registry or f"{name}.0" in self.registry or address_of(name) in ACTION_ADDRESSES

    # ------------------------------------------------------------------ entry points
    def handle_packet(self, data: bytes, client_address: Sender) -> None:
        """Apply one UDP datagram (a message or a bundle). Never raises."""
        self.handle_datagrams([(data, client_address)])

    def handle_datagrams(self, datagrams: Iterable[tuple[bytes, Sender]]) -> None:
        """Apply one turn's worth of datagrams (see ``osc_packets``: newest value per address, every
        press up to a bound, unknown addresses counted unparsed). Never raises."""
        turn = TurnBuffer(self._classify)
        for data, sender in datagrams:
            self.stats.packets += 1
            try:
                turn.feed(data, sender)
            except MalformedPacket as e:
                self._malformed(sender, str(e))
        self.stats.messages += turn.messages
        self.stats.superseded += turn.superseded
        self.stats.dropped_presses += turn.dropped_events
        for address, count in turn.unknown.items():
            self._unknown(address, count)
        for _, address, message, sender in turn.in_order():
            if not arguments_within(message, MAX_ARGUMENTS):
                self._malformed(sender, f"more than {MAX_ARGUMENTS} arguments")
                continue
            try:
                params = OscMessage(message).params
            except Exception as e:  # arbitrary bytes can trip the parser in ways it does not wrap
                self._malformed(sender, str(e) or type(e).__name__)
                continue
            self._handle(address, params, sender)

    def handle_message(self, address: str, args: Sequence[object], client_address: Sender) -> bool:
        """Apply one message; returns whether anything was written or fired. Never raises."""
        self.stats.messages += 1
        return self._handle(address, args, client_address)

    def _handle(self, address: str, args: Sequence[object], client_address: Sender) -> bool:
        try:
            return self._apply(address, args, client_address)
        except ParamError as e:
            self.stats.rejected += 1
            self.problems.warn("rejected", address, "OSC %s ignored: %s", address, e)
        except Exception as e:  # a bug in an action must not stop the server thread
            self.stats.rejected += 1
            self.problems.warn("failed", address, "OSC %s failed: %s", address, e)
        return False

    # ------------------------------------------------------------------ resolution
    def _target(self, address: str) -> str:
        alias = self.aliases.get(address)
        return address if alias is None else address_of(alias.param)

    def _classify(self, address: str) -> str:
        """VALUE (newest wins), EVENT (every press counts) or UNKNOWN, without parsing the message."""
        target = self._target(address)
        if target in ACTION_ADDRESSES:
            return EVENT
        spec = self.registry.by_address(target)
        if spec is not None:
            return EVENT if spec.kind == "trigger" else VALUE
        return VALUE if f"{name_of(target)}.0" in self.registry else UNKNOWN

    def _apply(self, address: str, args: Sequence[object], client_address: Sender) -> bool:
        raw = address
        alias = self.aliases.get(address)
        if alias is not None:
            address = address_of(alias.param)
            if alias.range is not None:
                args = [self._scale(a, alias.range) for a in args]
        if address in ACTION_ADDRESSES:
            return self._action(address, args, raw, client_address)
        spec = self.registry.by_address(address)
        if spec is not None:
            if spec.kind == "trigger":
                if not self.buttons.press((raw, client_address), button_level(args)):
                    return False  # a release, or a held button repeating itself
                args = (1.0,)
            elif not args:
                raise ParamError(f"{spec.name}: a value is needed")
            self.registry.set(spec.name, args[0], osc_source(client_address))
            self.stats.applied += 1
            return True
        prefix = name_of(address)
        if args and f"{prefix}.0" in self.registry:
            return self._apply_list(prefix, args, client_address)
        self._unknown(raw)
        return False

    def _apply_list(self, prefix: str, args: Sequence[object], client_address: Sender) -> bool:
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
                self.problems.warn("rejected", address_of(prefix), "OSC list %s: %s", prefix, e)
        self.stats.applied += 1 if errors == 0 else 0
        self.stats.rejected += 1 if errors else 0
        return errors < len(args)

    def _action(self, address: str, args: Sequence[object], raw: str, sender: Sender) -> bool:
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
        elif address == DESCRIBE_ADDRESS:
            return self.replies.describe(address_rows(self.registry, self.aliases.values()), sender, args) > 0
        elif address == DUMP_ADDRESS:
            return self.replies.dump(self.registry, sender, args) > 0
        elif not self.buttons.press((raw, sender), button_level(args)):
            return False  # a release, or a held button repeating itself
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
    def _malformed(self, sender: Sender, why: str) -> None:
        self.stats.malformed += 1
        self.problems.warn("malformed", why, "dropped a malformed OSC packet from %s: %s", sender, why)

    def _unknown(self, address: str, count: int = 1) -> None:
        self.stats.unknown += count
        seen = self.stats.unknown_addresses
        if address in seen:
            seen[address] += count
        elif len(seen) < MAX_COUNTED_ADDRESSES:
            seen[address] = count
        match = self._near_miss(address)
        if match:
            self.problems.warn("near-miss", address, "unknown OSC address %s; did you mean %s?", address, match)
        else:
            self.problems.warn("unknown", address, "unknown OSC address %s (counted, logged once); "
                               "`netblend osc` lists the addresses", address)

    def _addresses(self) -> list[str]:
        """Every address this adapter knows (cached until parameters or aliases change)."""
        key = (len(self.registry), len(self.aliases))
        if self._known[0] != key:
            known = [spec.address for spec in self.registry] + list(ACTION_ADDRESSES) + list(self.aliases)
            self._known = (key, known)
        return self._known[1]

    def _near_miss(self, address: str) -> str | None:
        """The real address that ``address`` is a typo of ('' for none, None when not checked yet).

        Each address is looked up once (remembered for the last :data:`NEAR_MISS_MEMORY`), at most
        :data:`NEAR_MISS_CHECKS` lookups a second: a typo that keeps arriving is always found."""
        if address in self._checked:
            return self._checked[address]
        now = self.clock()
        start, count = self._near_miss_window
        if now - start >= 1.0:
            start, count = now, 0
        if count >= NEAR_MISS_CHECKS:
            return None
        self._near_miss_window = (start, count + 1)
        size = len(address)
        candidates = [a for a in self._addresses() if abs(len(a) - size) <= 3]    # a typo is a few characters
        match = closest(address, candidates, cutoff=0.8) or ""
        self._checked[address] = match
        if len(self._checked) > NEAR_MISS_MEMORY:
            del self._checked[next(iter(self._checked))]
        return match


# ---------------------------------------------------------------------- mapping files
def load_osc_aliases(path: str | Path) -> list[OscAlias]:
    """The ``[[osc]]`` aliases of a mapping file (parsed and validated by ``engine.control.mapping``)."""
    return list(load_mapping(path).osc)
