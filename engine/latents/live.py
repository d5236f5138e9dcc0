"""The live latent engine: a frame's W+ from the ``latent.*`` values and the frame time.

``LatentEngine.ws(values, frame_time)`` is a function of the values, the keyframes and the time:
the same time gives the same W+ (the random walk, the one stateful walk, replays from t = 0 when
time runs backwards). Seeds are mapped once (the :class:`~engine.latents.seeds.SeedBank`); every
per-frame step is device math with host floats as coefficients, so nothing waits for the device.

Keyframes (``set_keyframes``) are seeds and/or W/W+ files. Without keyframes the anchor is
``latent.seed`` and lerp/slerp walks visit ``seed, seed + 1, seed + 2, ...``; with keyframes the
anchor is the first keyframe and lerp/slerp loop through them (one period per keyframe). Noise,
circle and random walks move around the anchor; the circle's second point is the second keyframe
(or ``seed + 1``). Walks in Z go through the mapping; a walk that touches a W file has no z and
runs in W (relative to ``w_avg``) whatever ``latent.walk.space`` says.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.clock import FrameTime
from .files import fit_latent, load_latent
from .mixing import RowMask, mix
from .seeds import SeedBank, class_label, truncate
from .walks import EASINGS, NoiseLoop, RandomWalk, RandomWalkConfig, ease, lerp, loop_phase, segment, slerp

WALK_MODES = ("off", "lerp", "slerp", "noise", "circle", "random")
WALK_SPACES = ("z", "w")
NOISE_MODES = ("const", "random", "animated", "none")
DEFAULTS = {
    "latent.seed": 0.0, "latent.psi": 1.0, "latent.cutoff": 0.0, "latent.class": 0.0,
    "latent.mix.seed": 1.0, "latent.mix.start": 0.0, "latent.mix.end": 0.0, "latent.mix.amount": 0.0,
    "latent.walk.mode": 0.0, "latent.walk.period": 4.0, "latent.walk.beats": 0.0,
    "latent.walk.radius": 0.5, "latent.walk.space": 0.0, "latent.walk.easing": 3.0,
    "latent.walk.momentum": 0.9, "latent.noise.mode": 0.0, "latent.noise.strength": 1.0,
    "latent.xform.x": 0.0, "latent.xform.y": 0.0, "latent.xform.angle": 0.0,
}


def input_transform(x: float, y: float, angle_deg: float) -> np.ndarray:
    """StyleGAN3's input transform for translate/rotate: inverse of ``[[c, s, x], [-s, c, y], [0, 0, 1]]``."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.linalg.inv(np.array([[c, s, x], [-s, c, y], [0.0, 0.0, 1.0]]))


@dataclass(frozen=True)
class Keyframe:
    """A walk keyframe: a seed, or a W+ tensor ``[1, num_ws, w_dim]`` (from a file) on the device."""

    seed: int | None = None
    ws: torch.Tensor | None = None
    label: str = ""


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


class LatentEngine:
    """W+ for each frame of a show over one generator ``G``, on ``device``."""

    def __init__(self, G, device: torch.device | str | None = None, bank: SeedBank | None = None):
        self.G = G
        self.bank = bank or SeedBank(G, device)
        self.device = self.bank.device
        self.keyframes: list[Keyframe] = []
        self.mix_source: torch.Tensor | None = None
        self._timer = WalkTimer()
        self._rows = RowMask(G.num_ws, self.device)
        self._noise: dict[tuple, NoiseLoop] = {}
        self._random: dict[tuple, RandomWalk] = {}
        self._xform_key: tuple | None = None
        self._xform: torch.Tensor | None = None

    @property
    def w_avg(self) -> torch.Tensor:
        """The truncation centre ``[w_dim]``, read live (a blended mapping rewrites it in place)."""
        return self.G.mapping.w_avg

    # ------------------------------------------------------------------ configuration (not per frame)
    def keyframe(self, item: int | str | os.PathLike | torch.Tensor | Keyframe) -> Keyframe:
        """A walk keyframe from a seed, a W/W+ file (read now) or a W+ tensor; raises LatentFileError."""
        if isinstance(item, Keyframe):
            return item
        if isinstance(item, (int, np.integer)):
            return Keyframe(seed=int(item), label=f"seed {int(item)}")
        if isinstance(item, torch.Tensor):
            return Keyframe(ws=fit_latent(item, self.G.num_ws, self.G.w_dim).to(self.device), label="tensor")
        return Keyframe(ws=load_latent(item, self.G, device=self.device), label=os.fspath(item))

    def set_keyframes(self, items: Sequence[int | str | os.PathLike | torch.Tensor | Keyframe]) -> None:
        """Walk keyframes: seeds, W/W+ file paths or W+ tensors (raises LatentFileError for a bad file)."""
        self.keyframes = [self.keyframe(item) for item in items]

    def set_mix_source(self, item: int | str | os.PathLike | torch.Tensor | None) -> None:
        """Style-mix rows from a W/W+ file or tensor instead of ``latent.mix.seed`` (``None``: the seed)."""
        self.mix_source = None if item is None else self.keyframe(item).ws

    def trigger_actions(self, registry) -> dict[str, Callable[[], None]]:
        """Actions for the loop's triggers: ``latent.next_seed`` / ``prev_seed`` step ``latent.seed``."""
        def step(delta: int) -> Callable[[], None]:
            return lambda: registry.set("latent.seed", registry.get("latent.seed") + delta, "trigger")
        return {"latent.next_seed": step(1), "latent.prev_seed": step(-1)}

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _value(values: Mapping[str, float], name: str) -> float:
        return float(values.get(name, DEFAULTS[name]))

    @staticmethod
    def _choice(values: Mapping[str, float], name: str, choices: tuple[str, ...]) -> str:
        index = int(round(float(values.get(name, DEFAULTS[name]))))
        return choices[min(max(index, 0), len(choices) - 1)]

    def _item(self, k: int, seed: int) -> Keyframe:
        if self.keyframes:
            return self.keyframes[k % len(self.keyframes)]
        return Keyframe(seed=seed + k)

    def _z(self, item: Keyframe) -> torch.Tensor | None:
        return None if item.seed is None else self.bank.z(item.seed)

    def _w(self, item: Keyframe, cls: int) -> torch.Tensor:
        if item.ws is not None:
            return item.ws
        return self.bank.ws(int(item.seed or 0), 1.0, None, cls)

    def _map(self, z: torch.Tensor, cls: int) -> torch.Tensor:
        with torch.no_grad():
            return self.G.mapping(z, class_label(self.G, cls, self.device), truncation_psi=1.0)

    def _walk_time(self, values: Mapping[str, float], ft: FrameTime) -> float:
        beats = self._value(values, "latent.walk.beats") > 0.5
        return self._timer(ft.beat if beats else ft.t, self._value(values, "latent.walk.period"), beats)

    def _walker(self, cache: dict, key: tuple, make: Callable[[], object]):
        walker = cache.get(key)
        if walker is None:
            cache.clear()
            walker = cache[key] = make()
        return walker

    # ------------------------------------------------------------------ per frame
    def _walk(self, mode: str, values: Mapping[str, float], tau: float, cls: int) -> torch.Tensor:
        """Untruncated W+ ``[1, num_ws, w_dim]`` of the walk at walk time ``tau``."""
        seed = int(self._value(values, "latent.seed"))
        in_z = self._choice(values, "latent.walk.space", WALK_SPACES) == "z"
        anchor = self._item(0, seed)
        if mode == "off":
            return self._w(anchor, cls)
        if mode in ("lerp", "slerp"):
            k, f = segment(tau, len(self.keyframes) or None)
            a, b = self._item(k, seed), self._item(k + 1, seed)
            if f == 0.0:
                return self._w(a, cls)
            f = ease(f, self._choice(values, "latent.walk.easing", EASINGS))
            blend = lerp if mode == "lerp" else slerp
            za, zb = self._z(a), self._z(b)
            if in_z and za is not None and zb is not None:
                return self._map(blend(za, zb, f), cls)
            return self.w_avg + blend(self._w(a, cls) - self.w_avg, self._w(b, cls) - self.w_avg, f)
        if mode == "circle":
            phase = loop_phase(tau)
            b = self._item(1, seed) if len(self.keyframes) > 1 else Keyframe(seed=seed + 1)
            za, zb = self._z(anchor), self._z(b)
            if phase == 0.0:
                return self._w(anchor, cls)
            angle = 2.0 * math.pi * phase
            if in_z and za is not None and zb is not None:
                return self._map(za * math.cos(angle) + zb * math.sin(angle), cls)
            da, db = self._w(anchor, cls) - self.w_avg, self._w(b, cls) - self.w_avg
            return self.w_avg + da * math.cos(angle) + db * math.sin(angle)
        return self._wander(mode, values, tau, anchor, cls, in_z)

    def _wander(self, mode: str, values: Mapping[str, float], tau: float, anchor: Keyframe, cls: int,
                in_z: bool) -> torch.Tensor:
        """Noise loop and random walk: ``anchor + radius * offset`` in Z, or in W (scaled by the anchor's spread)."""
        radius = self._value(values, "latent.walk.radius")
        za = self._z(anchor)
        use_z = in_z and za is not None
        dim = self.G.z_dim if use_z else self.G.w_dim
        walk_seed = anchor.seed if anchor.seed is not None else 0
        if mode == "noise":
            loop = self._walker(self._noise, (dim, walk_seed),
                                lambda: NoiseLoop(dim, walk_seed, self.device))
            offset = loop.offset(loop_phase(tau))                                # [dim]
        else:
            walk = self._walker(self._random, (dim, walk_seed), lambda: RandomWalk(
                dim, self.device, RandomWalkConfig(seed=walk_seed)))
            offset = walk.offset(tau, self._value(values, "latent.walk.momentum"))  # [dim]
        if use_z:
            return self._map(za + radius * offset, cls)                          # [1, num_ws, w_dim]
        wa = self._w(anchor, cls)                                                # [1, num_ws, w_dim]
        spread = (wa - self.w_avg).square().mean().sqrt()                        # [] on the device
        return wa + (radius * offset) * spread                                   # [1, num_ws, w_dim]

    def ws(self, values: Mapping[str, float], frame_time: FrameTime) -> torch.Tensor:
        """The frame's W+ ``[1, num_ws, w_dim]`` on the device: walk, style mixing, then truncation."""
        cls = int(self._value(values, "latent.class"))
        mode = self._choice(values, "latent.walk.mode", WALK_MODES)
        tau = self._walk_time(values, frame_time)
        w = self._walk(mode, values, tau, cls)                                   # [1, num_ws, w_dim]
        amount = self._value(values, "latent.mix.amount")
        if amount != 0.0:
            other = self.mix_source
            if other is None:
                other = self.bank.ws(int(self._value(values, "latent.mix.seed")), 1.0, None, cls)
            end = int(self._value(values, "latent.mix.end")) or self.G.num_ws
            weights = self._rows(int(self._value(values, "latent.mix.start")), end, amount)
            w = mix(w, other, weights)
        cutoff = int(self._value(values, "latent.cutoff"))
        return truncate(w, self.w_avg, self._value(values, "latent.psi"), cutoff or None)

    def synthesis_kwargs(self, values: Mapping[str, float], frame_time: FrameTime) -> dict:
        """``noise_mode``, ``noise_gain`` and (StyleGAN3) ``transform`` for this frame's synthesis.

        ``animated`` noise: the stored noise breathes over one walk period, gain
        ``strength * (1 - cos(2 pi phase))`` (mean ``strength``, back to 0 at each period).
        """
        mode = self._choice(values, "latent.noise.mode", NOISE_MODES)
        gain = self._value(values, "latent.noise.strength")
        if mode == "animated":
            phase = loop_phase(self._walk_time(values, frame_time))
            gain *= 1.0 - math.cos(2.0 * math.pi * phase)
            mode = "const"
        return {"noise_mode": mode, "noise_gain": gain, "transform": self._transform(values)}

    def _transform(self, values: Mapping[str, float]) -> torch.Tensor | None:
        if getattr(self.G, "family", "stylegan2") != "stylegan3":
            return None
        key = tuple(self._value(values, f"latent.xform.{k}") for k in ("x", "y", "angle"))
        if key == (0.0, 0.0, 0.0):
            return None
        if key != self._xform_key:
            matrix = torch.tensor(input_transform(*key), dtype=torch.float32)  # [3, 3]
            self._xform = matrix.to(self.device, non_blocking=True)
            self._xform_key = key
        return self._xform
