"""MIDI values: controller values -> unit positions -> parameter values (curves, ranges, inverse),
relative encoder ticks, and running status. Pure functions, no state."""

from __future__ import annotations

import math

from .mapping import MidiBinding

PICKUP_WINDOW = 1.5 / 127       # a fader within this distance of the value picks it up
RELATIVE_STEP = 1.0 / 128       # one encoder tick moves this fraction of the range
_CURVE_K = 4.0                  # steepness of the exp/log curves


def unit_position(value: int, top: int = 127) -> float:
    """A controller value 0..``top`` (127, or 16383 for 14-bit) as a position in [0, 1], with the
    centre value (64, or 8192) at exactly 0.5: each half of the travel is scaled on its own."""
    centre = (top + 1) // 2
    if value <= centre:
        return value / (2 * centre)
    return 0.5 + (value - centre) / (2 * (top - centre))


def controller_value(u: float, top: int = 127) -> int:
    """The controller value for position ``u`` (the inverse of :func:`unit_position`)."""
    u = min(max(u, 0.0), 1.0)
    centre = (top + 1) // 2
    if u <= 0.5:
        return round(u * 2 * centre)
    return centre + round((u - 0.5) * 2 * (top - centre))


def apply_curve(curve: str, u: float) -> float:
    """Shape a unit position ``u`` in [0, 1]; every curve maps 0 -> 0 and 1 -> 1, monotonically."""
    if curve == "exp":
        return (math.exp(_CURVE_K * u) - 1.0) / (math.exp(_CURVE_K) - 1.0)
    if curve == "log":
        return math.log1p((math.exp(_CURVE_K) - 1.0) * u) / _CURVE_K
    if curve == "scurve":
        return u * u * (3.0 - 2.0 * u)
    return u


def binding_value(b: MidiBinding, u: float) -> float:
    """The parameter value for unit position ``u`` of binding ``b`` (invert, curve, range)."""
    u = min(max(u, 0.0), 1.0)
    if b.invert:
        u = 1.0 - u
    lo, hi = b.range
    return lo + (hi - lo) * apply_curve(b.curve, u)


def binding_position(b: MidiBinding, value: float) -> float:
    """Inverse of :func:`binding_value`: where the control would sit for ``value`` (clamped to [0, 1])."""
    lo, hi = b.range
    shaped = min(max((value - lo) / (hi - lo), 0.0), 1.0)
    a, z = 0.0, 1.0
    for _ in range(30):                  # bisection: every curve is monotonic
        mid = 0.5 * (a + z)
        if apply_curve(b.curve, mid) < shaped:
            a = mid
        else:
            z = mid
    u = 0.5 * (a + z)
    return 1.0 - u if b.invert else u


def relative_delta(mode: str, value: int) -> int:
    """Encoder ticks encoded in one relative CC value."""
    if mode == "relative-twos":
        return value - 128 if value >= 64 else value
    if mode == "relative-offset":
        return value - 64
    if mode == "relative-signbit":
        return -(value & 0x3F) if value & 0x40 else value & 0x3F
    return 0


def expand_running_status(data: bytes) -> bytes:
    """Insert the status byte that running status leaves out (mido's parser drops such messages)."""
    out = bytearray()
    status, needed, have = 0, 0, 0
    for byte in data:
        if byte >= 0xF8:                      # real-time: may sit anywhere, keeps running status
            out.append(byte)
            continue
        if byte >= 0x80:
            status = byte if byte < 0xF0 else 0
            needed = 1 if 0xC0 <= byte < 0xE0 else 2
            have = 0
            out.append(byte)
            continue
        if status and have == needed:         # a data byte after a complete message: running status
            out.append(status)
            have = 0
        have += 1
        out.append(byte)
    return bytes(out)
