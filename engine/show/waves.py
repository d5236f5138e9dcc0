"""LFO wave shapes as pure functions of the cycle count, and the seeded random numbers behind the
random shapes.

Every shape maps a cycle count (whole cycles plus a phase in [0, 1)) to a value in [0, 1]. The
random shapes draw one number per whole cycle from a hash of ``(seed, cycle)``: no generator state,
so the same seed and the same clock give the same values however the frames fall, and a restart or
a replay needs nothing but the cycle count.
"""

from __future__ import annotations

import math

SINE, TRIANGLE, SAW_UP, SAW_DOWN, SQUARE, SAMPLE_HOLD, SMOOTH_RANDOM = range(7)
_MASK = (1 << 64) - 1
_TWO_PI = 2.0 * math.pi


def random_unit(seed: int, n: int) -> float:
    """A number in [0, 1) that depends only on ``(seed, n)`` (a splitmix64 finaliser)."""
    z = (seed * 0x9E3779B97F4A7C15 + n * 0xD1B54A32D192ED03 + 0x94D049BB133111EB) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    z ^= z >> 31
    return (z >> 11) / 9007199254740992.0   # 2 ** 53


def unit_wave(shape: int, cycles: float, width: float = 0.5, seed: int = 0) -> float:
    """The value in [0, 1] of ``shape`` after ``cycles`` cycles.

    Bipolar forms (``2 * value - 1``) start like their names: the sine and the triangle at 0 going
    up, the saw up at -1, the saw down at +1, the square high for the first ``width`` of a cycle.
    """
    n = math.floor(cycles)
    p = cycles - n                                          # phase within the cycle, [0, 1)
    if shape == SINE:
        return 0.5 + 0.5 * math.sin(_TWO_PI * p)
    if shape == TRIANGLE:
        return 2.0 * abs((p + 0.75) % 1.0 - 0.5)
    if shape == SAW_UP:
        return p
    if shape == SAW_DOWN:
        return 1.0 - p
    if shape == SQUARE:
        return 1.0 if p < width else 0.0
    if shape == SAMPLE_HOLD:
        return random_unit(seed, n)
    a = random_unit(seed, n)                                # SMOOTH_RANDOM: eased between draws
    b = random_unit(seed, n + 1)
    return a + (b - a) * p * p * (3.0 - 2.0 * p)
