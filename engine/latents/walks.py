"""Walks through latent space, as functions of walk time (seconds or beats divided by the period).

Time arithmetic (which keyframe, how far, the loop phase, the noise coefficients, the random walk's
steps) happens on the host, where the clock lives, and yields a few numbers per frame; the device math
(:func:`lerp`, :func:`slerp`, a small matmul) takes them as tensors, so it never reads a value back,
never branches on one, and traces to one graph whatever the values (no recompiles).

- :class:`WalkTimer`: walk time in periods, continuous across period changes.
- :func:`segment`: which keyframe pair and how far along it, looping over ``count`` keyframes.
- :func:`lerp` / :func:`slerp`: between two latents along the last dimension, the fraction a float
  or a device tensor; slerp keeps the norm (it moves the direction on the sphere and interpolates the
  length linearly).
- :class:`NoiseLoop`: smooth periodic noise (a few random Fourier harmonics) that returns exactly to
  its start when the phase wraps: host coefficients times a basis drawn once from the seed.
- :func:`circle`: ``cos(2 pi phase) a + sin(2 pi phase) b``.
- :class:`RandomWalk`: momentum random walk on a fixed step grid, so the state at a time depends only
  on that time (reproducible from t = 0), and seeded; it steps on the host (a CPU generator, so the
  path is the same on every device) and the device interpolates between two grid points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

EASINGS = ("linear", "smoothstep", "smootherstep", "cosine", "cubic")


def ease(f: float, easing: str) -> float:
    """Map a fraction in [0, 1] through an easing curve (all fix 0 and 1)."""
    if easing == "smoothstep":
        return f * f * (3.0 - 2.0 * f)
    if easing == "smootherstep":
        return f * f * f * (f * (f * 6.0 - 15.0) + 10.0)
    if easing == "cosine":
        return 0.5 - 0.5 * math.cos(math.pi * f)
    if easing == "cubic":
        return 4.0 * f ** 3 if f < 0.5 else 1.0 - (-2.0 * f + 2.0) ** 3 / 2.0
    return f


def loop_phase(tau: float, loop_length: float = 1.0) -> float:
    """Phase in [0, 1) of walk time ``tau`` on a loop of ``loop_length``; exactly 0 at every multiple."""
    if tau >= 0:
        return math.fmod(tau, loop_length) / loop_length
    return (loop_length - math.fmod(-tau, loop_length)) % loop_length / loop_length


def segment(tau: float, count: int | None) -> tuple[int, float]:
    """Keyframe index ``k`` and fraction ``f`` of walk time ``tau`` (one keyframe per unit).

    With ``count`` keyframes the walk loops (the last goes back to the first); ``None`` never loops.
    """
    k = math.floor(tau)
    f = tau - k
    return (k % count if count else k), f


class WalkTimer:
    """Walk time ``tau`` in periods: ``time / period`` while the period holds; a period change keeps
    ``tau`` continuous from that moment (no jump); time running backwards restarts from 0."""

    def __init__(self) -> None:
        self._state: tuple[float, float, float, bool] | None = None   # (time0, tau0, period, beats)
        self._last = -math.inf

    def __call__(self, time: float, period: float, beats: bool) -> float:
        period = max(period, 1e-6)
        state = self._state
        if state is None or time < self._last or beats != state[3]:
            state = (0.0, 0.0, period, beats)
        elif period != state[2]:
            state = (time, state[1] + (time - state[0]) / state[2], period, beats)
        self._state, self._last = state, time
        return state[1] + (time - state[0]) / state[2]



def lerp(a: torch.Tensor, b: torch.Tensor, f: float | torch.Tensor) -> torch.Tensor:
    """Straight line from ``a`` to ``b`` (``f`` a float or a 0-d tensor on their device)."""
    return torch.lerp(a, b, f)


def slerp(a: torch.Tensor, b: torch.Tensor, f: float | torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Great-circle interpolation over the last dimension, lengths interpolated linearly.

    Equal-length ends keep that length all the way; (anti)parallel ends fall back to lerp of the
    directions through ``torch.where`` (no host branch). ``f``: a float or a 0-d device tensor.
    """
    na = a.norm(dim=-1, keepdim=True)                                # [..., 1]
    nb = b.norm(dim=-1, keepdim=True)                                # [..., 1]
    ua = a / na.clamp_min(eps)                                       # [..., D]
    ub = b / nb.clamp_min(eps)                                       # [..., D]
    cos = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)       # [..., 1]
    omega = torch.acos(cos)                                          # [..., 1]
    sin = torch.sin(omega)                                           # [..., 1]
    safe = sin > 1e-6
    sin_safe = torch.where(safe, sin, torch.ones_like(sin))
    ones = torch.ones_like(sin)
    wa = torch.where(safe, torch.sin((1.0 - f) * omega) / sin_safe, ones * (1.0 - f))
    wb = torch.where(safe, torch.sin(f * omega) / sin_safe, ones * f)
    direction = wa * ua + wb * ub                                    # [..., D]
    direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(eps)
    return direction * torch.lerp(na, nb, f)                         # [..., D]


def circle(a: torch.Tensor, b: torch.Tensor, phase: float) -> torch.Tensor:
    """``cos(2 pi phase) a + sin(2 pi phase) b``; phase 0 gives exactly ``a``."""
    if phase == 0.0:
        return a
    angle = 2.0 * math.pi * phase
    return a * math.cos(angle) + b * math.sin(angle)


class NoiseLoop:
    """Smooth periodic noise, unit variance per component: ``sum_k g_k (A_k cos 2pi k p + B_k sin 2pi k p)``.

    ``A_k, B_k`` are fixed normal vectors drawn from ``seed`` on the host (numpy: the same loop on
    every device); gains ``g_k ~ 1/k`` (normalised so the squared gains sum to 1) keep it smooth. The
    walk uses the loop minus its value at phase 0, ``coefficients(p) @ basis``: the host computes the
    ``2H`` coefficients (exactly 0 at phase 0, so the loop starts and closes exactly at its centre),
    the device one small matmul.
    """

    def __init__(self, dim: int, seed: int, harmonics: int = 4):
        rng = np.random.default_rng(int(seed) % (2 ** 63))
        self.dim, self.harmonics = dim, harmonics
        self.basis = rng.standard_normal((2 * harmonics, dim)).astype(np.float32)   # [2H, dim]
        k = np.arange(1, harmonics + 1, dtype=np.float64)
        self.k = k
        self.gains = (1.0 / k) / np.sqrt(np.sum((1.0 / k) ** 2))

    def coefficients(self, phase: float) -> np.ndarray:
        """float32 ``[2H]``: the loop at ``phase`` minus the loop at phase 0, as basis coefficients."""
        angle = 2.0 * math.pi * phase * self.k
        coeffs = np.concatenate([self.gains * (np.cos(angle) - 1.0), self.gains * np.sin(angle)])
        return coeffs.astype(np.float32)

    def offset(self, phase: float) -> torch.Tensor:
        """Noise at ``phase`` minus the noise at phase 0: CPU ``[dim]``, exactly 0 at phase 0."""
        return torch.from_numpy(self.coefficients(phase) @ self.basis)


@dataclass
class RandomWalkConfig:
    steps_per_unit: int = 32      # grid steps per walk-time unit (one period)
    seed: int = 0                 # the generator seed of the walk


class RandomWalk:
    """Random walk with momentum on a fixed grid of walk time; stationary, unit variance per component.

    Velocity: ``v' = m v + sqrt(1 - m^2) e`` (``m`` = momentum, ``e`` fresh normal noise);
    position: ``x' = r x + g v'`` with ``r = exp(-1 / steps_per_unit)`` (it wanders but is pulled back
    toward the centre over about one period) and ``g`` chosen so each component has unit variance.
    Between grid points the position is interpolated linearly. Asking for an earlier time restarts
    from step 0, so the state at a time depends only on that time, the momentum (and its changes)
    and the seed. The steps run on the host (numpy, seeded: the same path on every device);
    ``ends(tau, momentum)`` gives the two grid points around ``tau`` and the fraction between them.
    """

    def __init__(self, dim: int, config: RandomWalkConfig | None = None):
        self.dim = dim
        self.config = config or RandomWalkConfig()
        self.reset(0.0)

    def reset(self, momentum: float) -> None:
        """Back to step 0 (the centre) with a freshly seeded generator."""
        self._rng = np.random.default_rng(int(self.config.seed) % (2 ** 63))
        self._momentum = momentum
        self._step = 0
        self._x = np.zeros(self.dim, dtype=np.float32)                            # [dim]
        self._v = self._rng.standard_normal(self.dim)
        self._x_next: np.ndarray | None = None
        self.moved = True                                                          # the ends changed

    def _advance(self, x: np.ndarray) -> np.ndarray:
        m = self._momentum
        r = math.exp(-1.0 / self.config.steps_per_unit)
        e = self._rng.standard_normal(self.dim)                                   # [dim]
        self._v = self._v * m + e * math.sqrt(max(1.0 - m * m, 0.0))
        # correlated velocities inflate the variance of x by (1 + r m) / (1 - r m): scale it back to 1
        gain = math.sqrt((1.0 - r * r) * (1.0 - r * m) / (1.0 + r * m))
        return (x * r + self._v * gain).astype(np.float32)

    def ends(self, tau: float, momentum: float) -> tuple[np.ndarray, np.ndarray, float]:
        """The grid points ``(x_k, x_k+1)`` (float32 ``[dim]``) around walk time ``tau`` and the fraction.

        A momentum change applies to the steps still to come (no jump); the path therefore depends on
        the momentum's history, which a recorded control log replays exactly. :attr:`moved` tells
        whether the ends changed since the caller last cleared it.
        """
        pos = max(tau, 0.0) * self.config.steps_per_unit
        step = math.floor(pos)
        if step < self._step:
            self.reset(momentum)
        self._momentum = momentum
        if self._x_next is None:
            self._x_next = self._advance(self._x)
            self.moved = True
        while self._step < step:
            self._x = self._x_next
            self._x_next = self._advance(self._x)
            self._step += 1
            self.moved = True
        return self._x, self._x_next, pos - step

    def offset(self, tau: float, momentum: float) -> torch.Tensor:
        """Offset ``[dim]`` (CPU) from the centre at walk time ``tau`` (0 at tau = 0)."""
        x, x_next, f = self.ends(tau, momentum)
        return torch.lerp(torch.from_numpy(x), torch.from_numpy(x_next), f)
