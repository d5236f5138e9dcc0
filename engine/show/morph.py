"""Morphs: a timed move of parameters from their values at a recall to a preset's.

The show advances the running morph once per frame, at the frame boundary (``step_frame``), in
seconds or beats. Float parameters move linearly; ints, bools and choices switch at the halfway
point. A parameter written by someone else during a morph (a fader) leaves the morph: the
performer's hand wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.clock import FrameTime
from ..core.params import ParamRegistry
from ..errors import PresetError


class Morph:
    """A timed move of parameters from their current values to a preset's; advanced by the loop."""

    def __init__(self, registry: ParamRegistry, targets: Mapping[str, float], duration: float,
                 unit: str = "seconds", source: object = None):
        if unit not in ("seconds", "beats"):
            raise PresetError(f"morph unit {unit!r} must be 'seconds' or 'beats'")
        self.registry = registry
        self.duration = max(float(duration), 1e-9)
        self.unit = unit
        self.source = source
        self.elapsed = 0.0
        self._start = {n: registry.get(n) for n in targets}
        self._target = dict(targets)
        self._written: dict[str, float] = dict(self._start)
        self._discrete = {n for n in targets if registry.spec(n).kind != "float"}

    @property
    def done(self) -> bool:
        return self.elapsed >= self.duration

    @property
    def progress(self) -> float:
        return min(self.elapsed / self.duration, 1.0)

    def step(self, amount: float) -> bool:
        """Advance by ``amount`` seconds (or beats) and write the values; returns False once finished."""
        if self.done:
            return False
        self.elapsed += max(float(amount), 0.0)
        f = self.progress
        for name in list(self._target):
            if name not in self.registry or self.registry.get(name) != self._written[name]:
                del self._target[name]   # moved by a performer (or removed): it leaves the morph
                continue
            a, b = self._start[name], self._target[name]
            value = (b if f >= 0.5 else a) if name in self._discrete else (b if f >= 1.0 else a + (b - a) * f)
            self._written[name] = self.registry.set(name, value, self.source)
        self.registry.jump([n for n in self._target if n not in self._discrete])
        return not self.done

    def step_frame(self, frame_time: FrameTime) -> bool:
        """Advance by one frame: ``dt`` seconds, or the beats it spans at the frame's tempo."""
        return self.step(frame_time.dt if self.unit == "seconds" else frame_time.dt * frame_time.bpm / 60.0)
