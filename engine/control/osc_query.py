"""Answers to ``/engine/describe`` and ``/engine/dump``: a running engine tells an OSC peer what it
accepts and what every value is now.

Where the answer goes: to the feedback target (``--osc-feedback``) when there is one, else to the
sender's address (host and the port it sent from). An argument ``sender`` sends it to the sender even
when feedback is on (a TouchOSC layout or a script that listens on the port it sends from).

- ``/engine/describe``: one ``/engine/describe/row`` message per address (six strings: address, name,
  type, range, default, description; the columns of ``netblend osc``), then ``/engine/describe/done i N``.
  With ``json``: one ``/engine/describe/json`` message holding the JSON of ``netblend osc --format json``.
- ``/engine/dump``: every parameter's current value at its address, one float each (what the feedback
  sends when a value changes, so an OSC In CHOP started late learns values still at their defaults),
  ``/engine/fps`` once frames render, then ``/engine/dump/done i N``. With ``names``: choice values as
  their names (strings, for an OSC In DAT or a TouchOSC label) instead of their index.

Each answer is a burst of datagrams, so each kind answers at most once per :data:`MIN_INTERVAL`
seconds; requests in between are counted and dropped (a spoofed sender cannot turn the engine into an
amplifier).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence

from pythonosc.osc_message_builder import OscMessageBuilder

from ..core.params import ParamRegistry
from .osc_addresses import DESCRIBE_ADDRESS, DUMP_ADDRESS, FPS_ADDRESS
from .osc_table import AddressRow

log = logging.getLogger("netblend.osc")

MIN_INTERVAL = 0.25
MAX_DATAGRAM = 60_000           # a JSON answer larger than this goes out as rows instead

Send = Callable[[bytes, tuple[str, int]], None]


def osc_message(address: str, *args: str | int | float) -> bytes:
    """One OSC message (floats as f, ints as i, text as s)."""
    builder = OscMessageBuilder(address)
    for arg in args:
        builder.add_arg(arg)
    return builder.build().dgram


class OscReplies:
    """Builds and sends the answers; ``send`` is set by the OSC server (its own socket)."""

    def __init__(self, feedback: tuple[str, int] | None = None,
                 fps_source: Callable[[], float | None] | None = None,
                 min_interval: float = MIN_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.feedback = feedback                     # --osc-feedback target, if any
        self.fps_source = fps_source                 # the show's frame rate (None before the first frame)
        self.send: Send | None = None
        self.min_interval = min_interval
        self.clock = clock
        self.sent = 0
        self.refused = 0                             # requests inside the rate limit
        self._last: dict[str, float] = {}

    def target(self, sender: tuple[str, int], args: Sequence[object]) -> tuple[str, int]:
        """Where an answer to ``sender`` goes (see the module docstring)."""
        if self.feedback is None or "sender" in args:
            return sender
        return self.feedback

    def _allowed(self, kind: str) -> bool:
        now = self.clock()
        if now - self._last.get(kind, -1e9) < self.min_interval:
            self.refused += 1
            return False
        self._last[kind] = now
        return True

    def describe(self, rows: Sequence[AddressRow], sender: tuple[str, int], args: Sequence[object]) -> int:
        """Send the address table; returns the number of datagrams sent."""
        if not self._allowed("describe"):
            return 0
        target = self.target(sender, args)
        if "json" in args:
            text = json.dumps([row.as_json() for row in rows])
            if len(text) < MAX_DATAGRAM:
                return self._send_all([osc_message(DESCRIBE_ADDRESS + "/json", text)], target)
            log.warning("the OSC table is %d bytes, too big for one datagram; sent as rows", len(text))
        messages = [osc_message(DESCRIBE_ADDRESS + "/row", *row.cells()) for row in rows]
        messages.append(osc_message(DESCRIBE_ADDRESS + "/done", len(rows)))
        return self._send_all(messages, target)

    def dump(self, registry: ParamRegistry, sender: tuple[str, int], args: Sequence[object]) -> int:
        """Send every parameter's value; returns the number of datagrams sent."""
        if not self._allowed("dump"):
            return 0
        names = "names" in args
        values = registry.targets()
        messages = []
        for spec in registry:
            if spec.kind == "trigger" or spec.name not in values:
                continue
            value = values[spec.name]
            if names and spec.kind == "choice":
                messages.append(osc_message(spec.address, spec.choices[int(value)]))
            else:
                messages.append(osc_message(spec.address, float(value)))
        fps = self._fps()
        if fps is not None:
            messages.append(osc_message(FPS_ADDRESS, float(fps)))
        messages.append(osc_message(DUMP_ADDRESS + "/done", len(messages)))
        return self._send_all(messages, self.target(sender, args))

    def _fps(self) -> float | None:
        if self.fps_source is None:
            return None
        try:
            return self.fps_source()
        except Exception as e:  # a broken fps source must not break the dump
            log.debug("no fps for the dump: %s", e)
            return None

    def _send_all(self, messages: list[bytes], target: tuple[str, int]) -> int:
        if self.send is None:
            log.warning("OSC %s: no socket to answer from (the OSC server is not running)", target)
            return 0
        count = 0
        for data in messages:
            try:
                self.send(data, target)
            except OSError as e:   # the receiver is gone or unreachable: the rest would fail the same way
                log.warning("OSC answer to %s:%d failed: %s", target[0], target[1], e)
                break
            count += 1
        self.sent += count
        return count
