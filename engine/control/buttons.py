"""When a button press counts: once per press, on the rising edge, for OSC and MIDI alike.

Controllers and senders disagree on what "holding a button" looks like on the wire. A TouchDesigner
OSC Out CHOP with *Send Events Every Cook* on repeats ``1`` every cook (60 times a second) for as long
as the button is held; some MIDI controllers and Max patches repeat their press value too. A press
must fire its trigger or action once, however long it is held.

The rule (:class:`PressDetector`), kept per key (an OSC address and its sender, or one MIDI binding):

- a value above the threshold (OSC: > 0.5; MIDI: >= 64) is *held*, anything else is *released*;
- a press fires when the key goes from released to held (the rising edge), and is then spent;
- it re-arms on a release, **or after** :data:`REARM_AFTER` **seconds in which that key sent nothing**,
  so a sender that never sends a release (a Max ``[1(`` message, a TouchOSC button set to send only
  on press) can press again. A held button that repeats its value at least every quarter second
  (every TouchDesigner cook, however slow the project) fires once;
- a *bang* (an OSC message with no argument, or a string) always fires: it has no held state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

REARM_AFTER = 0.25          # seconds of silence after which a held key can fire again
MAX_KEYS = 1024             # keys remembered (a flood of spoofed senders cannot grow this without bound)


class PressDetector:
    """Rising-edge detection per key, with the re-arm rule of the module docstring. Not thread-safe:
    one adapter thread owns it."""

    def __init__(self, rearm_after: float = REARM_AFTER, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_KEYS):
        self.rearm_after = rearm_after
        self.clock = clock
        self.max_keys = max_keys
        self._held: dict[Hashable, tuple[bool, float]] = {}     # key -> (held, time of its last message)
        self.repeats = 0                                         # held repeats that did not fire

    def press(self, key: Hashable, held: bool | None, now: float | None = None) -> bool:
        """Whether this message fires: ``held`` True/False for a level, None for a bang."""
        if held is None:
            return True
        now = self.clock() if now is None else now
        previous = self._held.pop(key, None)
        self._held[key] = (held, now)                            # re-inserted: most recent last
        if len(self._held) > self.max_keys:
            del self._held[next(iter(self._held))]               # forget the longest-silent key
        if not held:
            return False
        fires = previous is None or not previous[0] or now - previous[1] > self.rearm_after
        if not fires:
            self.repeats += 1
        return fires

    def forget(self, key: Hashable) -> None:
        """Drop the state of ``key`` (its next press fires)."""
        self._held.pop(key, None)
