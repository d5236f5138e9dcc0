"""OSC datagrams -> messages, and what one turn of the OSC server keeps of them.

The server drains its socket every turn (everything that arrived since the last one) and hands the
datagrams over in one batch. :func:`split_packet` flattens bundles (timetags are ignored: a bundle
stamped in the future applies now) and :func:`message_address` reads a message's address without
parsing its arguments, so a flood costs a few byte operations per datagram. :class:`TurnBuffer` then
keeps, per address:

- **values** (parameters, list forms): only the newest message (latest wins; older ones are never
  parsed). If that newest message is unusable (NaN, a wrong type), the value from before stays;
- **events** (triggers, actions, queries): every message in order, up to :data:`MAX_EVENTS_PER_TURN`
  (a press and its release are two), so ten taps within one turn are ten taps;
- **unknown** addresses: counted, never parsed.
"""

from __future__ import annotations

from collections.abc import Callable

BUNDLE = b"#bundle\x00"
MAX_BUNDLE_DEPTH = 8
MAX_EVENTS_PER_TURN = 64        # messages per event address per turn (32 presses with their releases)

VALUE, EVENT, UNKNOWN = "value", "event", "unknown"


class MalformedPacket(ValueError):
    """A datagram that is not an OSC message or bundle."""


def split_packet(data: bytes, depth: int = 0) -> list[bytes]:
    """The messages of one datagram, bundles flattened in order; raises :class:`MalformedPacket`.

    Only the structure is checked (whole 32-bit words, element sizes that fit); arguments are parsed
    later, for the messages that are kept."""
    if len(data) % 4:
        raise MalformedPacket("not a whole number of 32-bit words")
    if data.startswith(BUNDLE):
        if depth >= MAX_BUNDLE_DEPTH or len(data) < 16:
            raise MalformedPacket("bundle too deep or too short")
        out: list[bytes] = []
        i = 16                                  # after "#bundle\0" and the 8-byte timetag
        while i < len(data):
            size = int.from_bytes(data[i:i + 4], "big", signed=True)
            if size <= 0 or size % 4 or i + 4 + size > len(data):
                raise MalformedPacket("bundle element size does not fit")
            out += split_packet(data[i + 4:i + 4 + size], depth + 1)
            i += 4 + size
        return out
    if not data.startswith(b"/"):
        raise MalformedPacket("neither a message nor a bundle")
    return [data]


def message_address(message: bytes) -> str:
    """The address of one message (up to its first NUL); raises :class:`MalformedPacket`."""
    end = message.find(b"\x00")
    if end < 0:
        raise MalformedPacket("address not terminated")
    try:
        return message[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedPacket("address is not UTF-8") from None


Sender = tuple[str, int]
Kept = tuple[int, str, bytes, Sender]      # (arrival position in the turn, address, message, sender)


class TurnBuffer:
    """The messages of one turn that will be parsed and applied (see the module docstring).

    ``classify(address)`` says VALUE, EVENT or UNKNOWN; it is asked once per distinct address per
    turn, so a flood of one address costs a dict lookup per datagram."""

    def __init__(self, classify: Callable[[str], str]):
        self.classify = classify
        self.values: dict[str, Kept] = {}
        self.events: dict[str, list[Kept]] = {}
        self.unknown: dict[str, int] = {}           # address -> messages this turn
        self.messages = 0
        self.superseded = 0                         # value messages replaced by a newer one (never parsed)
        self.dropped_events = 0                     # event messages past MAX_EVENTS_PER_TURN
        self._kinds: dict[bytes, tuple[str, str]] = {}

    def feed(self, data: bytes, sender: Sender) -> None:
        """Take one datagram; raises :class:`MalformedPacket` (then none of its messages is kept)."""
        if data[:1] == b"/" and not len(data) & 3:         # the common case: one plain message
            self._add(data, sender)
            return
        for message in split_packet(data):
            self._add(message, sender)

    def _add(self, message: bytes, sender: Sender) -> None:
        self.messages += 1
        head = message[:message.find(b"\x00")]
        known = self._kinds.get(head)
        if known is None:
            address = message_address(message)
            known = self._kinds[head] = (address, self.classify(address))
        address, kind = known
        if kind == VALUE:
            if address in self.values:
                self.superseded += 1
            self.values[address] = (self.messages, address, message, sender)
        elif kind == EVENT:
            queue = self.events.setdefault(address, [])
            if len(queue) < MAX_EVENTS_PER_TURN:
                queue.append((self.messages, address, message, sender))
            else:
                self.dropped_events += 1
        else:
            self.unknown[address] = self.unknown.get(address, 0) + 1

    def in_order(self) -> list[Kept]:
        """Every kept message in arrival order."""
        kept = list(self.values.values())
        for queue in self.events.values():
            kept += queue
        kept.sort()
        return kept
