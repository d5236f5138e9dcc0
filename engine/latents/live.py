"""The live latent engine: a frame's W+ from the ``latent.*`` values and the frame time.

``LatentEngine.ws(values, frame_time)`` is a function of the values, the keyframes and the time:
the same time gives the same W+ (the random walk, the one stateful walk, replays from t = 0 when
time runs backwards).

Keyframes (``set_keyframes``) are seeds and/or W/W+ files. Without keyframes the anchor is
``latent.seed`` and lerp/slerp walks visit ``seed, seed + 1, seed + 2, ...``; with keyframes the
anchor is the first keyframe and lerp/slerp loop through them (one period per keyframe). Noise,
circle and random walks move around the anchor; the circle's second point is the second keyframe
(or ``seed + 1``). Walks in Z go through the mapping; a walk that touches a W file has no z and
runs in W (relative to ``w_avg``) whatever ``latent.walk.space`` says.

A frame has two halves, so that the device half never waits for the host nor the host for the device:

- :meth:`LatentEngine.prepare` (host): the time arithmetic (walk time, keyframe pair, easing, loop
  phase, noise coefficients, random-walk steps), the seeds the frame needs placed in the device table
  (:mod:`engine.latents.table`), and every per-frame number (walk coefficients, psi, cutoff, mixing,
  noise gain, transform, direction amounts, table rows) written into one host buffer and sent with
  one non-blocking copy into a small device tensor (:data:`SCALARS`). It returns the frame's *plan*,
  ``(walk mode, walks in Z)``, which changes only when the performer picks another walk.
- :meth:`LatentEngine.compute` (device): a pure function of device tensors for a plan: gather, walk,
  style mixing, truncation, directions. No ``.item()``, no branch on a value, no Python number that
  changes per frame, so ``torch.compile`` traces it to one graph that values never recompile, and a
  captured CUDA graph of it replays with the values of the frame.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.clock import FrameTime
from ..core.uploads import StagedUpload
from .directions import DirectionConfig, DirectionSet
from .files import fit_latent, load_latent
from .seeds import _module_device
from .steering import LIVE_COUNT, SOURCES, LiveDirections
from .table import LatentTable
from .walks import (
    EASINGS,
    NoiseLoop,
    RandomWalk,
    RandomWalkConfig,
    WalkTimer,
    ease,
    loop_phase,
    segment,
    slerp,
)

WALK_MODES = ("off", "lerp", "slerp", "noise", "circle", "random")
WALK_SPACES = ("z", "w")
NOISE_MODES = ("const", "random", "animated", "none")
HARMONICS = 4
DEFAULTS = {
    "latent.seed": 0.0, "latent.psi": 1.0, "latent.cutoff": 0.0, "latent.class": 0.0,
    "latent.mix.seed": 1.0, "latent.mix.start": 0.0, "latent.mix.end": 0.0, "latent.mix.amount": 0.0,
    "latent.walk.mode": 0.0, "latent.walk.period": 4.0, "latent.walk.beats": 0.0,
    "latent.walk.radius": 0.5, "latent.walk.space": 0.0, "latent.walk.easing": 3.0,
    "latent.walk.momentum": 0.9, "latent.noise.mode": 0.0, "latent.noise.strength": 1.0,
    "latent.xform.x": 0.0, "latent.xform.y": 0.0, "latent.xform.angle": 0.0,
    "latent.dir.start": 0.0, "latent.dir.end": 0.0, "latent.dir.source": 0.0,
    **{f"latent.dir.{k}": 0.0 for k in range(LIVE_COUNT)},
}


def _layout() -> dict[str, int]:
    names = ["psi", "cutoff", "mix.amount", "mix.start", "mix.end", "walk.f", "walk.cos", "walk.sin",
             "walk.radius", "noise.gain", "dir.start", "dir.end", "row.a", "row.b", "row.mix"]
    names += [f"noise.{i}" for i in range(2 * HARMONICS)]
    names += [f"dir.{k}" for k in range(LIVE_COUNT)]
    names += [f"xform.{i}" for i in range(9)]
    return {name: i for i, name in enumerate(names)}


SCALARS = _layout()      # name -> index in the frame's scalar tensor


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


class LatentEngine:
    """W+ for each frame of a show over one generator ``G``, on ``device``.

    ``models``: the source models of the show (A, B, ...) for ``latent.dir.source`` a and b (default:
    ``G`` for both). ``directions``: how their directions are computed (read from the cache, or
    computed once and cached, here at load), or ready sets ``{"a": DirectionSet, "b": ...}``;
    ``None`` leaves ``latent.dir.*`` without effect.
    """

    def __init__(self, G, device: torch.device | str | None = None, models: Sequence | None = None,
                 directions: DirectionConfig | Mapping[str, DirectionSet] | None = DirectionConfig()) -> None:
        self.G = G
        self.device = torch.device(device) if device is not None else _module_device(G)
        self.family = getattr(G, "family", "stylegan2")
        self.keyframes: list[Keyframe] = []
        self.mix_source: torch.Tensor | None = None
        self.table = LatentTable(G, self.device)
        self.directions = LiveDirections(G, self.device, models, directions) if directions is not None else None
        self._scalars = StagedUpload((len(SCALARS),), self.device)
        self._host = np.zeros(len(SCALARS), dtype=np.float32)
        self._timer = WalkTimer()
        self._file_rows: list[int | None] = []
        self._mix_row: int | None = None
        self._noise: OrderedDict[tuple[int, int], NoiseLoop] = OrderedDict()
        self._random: OrderedDict[tuple[int, int], RandomWalk] = OrderedDict()
        self._noise_basis = {dim: StagedUpload((2 * HARMONICS, dim), self.device) for dim in {G.z_dim, G.w_dim}}
        self._random_ends = {dim: StagedUpload((2, dim), self.device) for dim in {G.z_dim, G.w_dim}}
        self._sent: dict[tuple[str, int], object] = {}            # what each walker upload holds now
        self._xform_key: tuple[float, float, float] | None = None
        self._xform_host = np.eye(3)
        scalars = self._scalars.tensor
        with torch.no_grad(), torch.inference_mode(False):
            self._row_ids = torch.arange(G.num_ws, device=self.device, dtype=torch.float32).unsqueeze(1)  # [num_ws, 1]
            self._gain = scalars.select(0, SCALARS["noise.gain"])                                  # [] view
            self._user_xform = scalars.narrow(0, SCALARS["xform.0"], 9).view(3, 3)                 # [3, 3] view
            self._xform = torch.eye(3, device=self.device) if self.family == "stylegan3" else None
        self._prepared: tuple[Mapping[str, float], FrameTime, tuple[str, bool]] | None = None
        self._noise_mode = "const"

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
        self._sync_files()

    def set_mix_source(self, item: int | str | os.PathLike | torch.Tensor | None) -> None:
        """Style-mix rows from a W/W+ file or tensor instead of ``latent.mix.seed`` (``None``: the seed)."""
        self.mix_source = None if item is None else self.keyframe(item).ws
        self._sync_files()

    def _sync_files(self) -> None:
        files = [kf.ws for kf in self.keyframes if kf.ws is not None]
        self._file_rows, i = [], 0
        for kf in self.keyframes:
            self._file_rows.append(None if kf.ws is None else self.table.file_row(i))
            i += kf.ws is not None
        self._mix_row = None
        if self.mix_source is not None:
            self._mix_row = self.table.file_row(len(files))
            files.append(self.mix_source)
        self.table.set_files(files)
        self._prepared = None

    def trigger_actions(self, registry) -> dict[str, Callable[[], None]]:
        """Actions for the loop's triggers: ``latent.next_seed`` / ``prev_seed`` step ``latent.seed``."""
        def step(delta: int) -> Callable[[], None]:
            return lambda: registry.set("latent.seed", registry.get("latent.seed") + delta, "trigger")
        return {"latent.next_seed": step(1), "latent.prev_seed": step(-1)}

    def close(self) -> None:
        """Stop the worker thread of the blend's directions, if one was started."""
        if self.directions is not None:
            self.directions.close()

    # ------------------------------------------------------------------ the renderer's entry points
    def ws(self, values: Mapping[str, float], frame_time: FrameTime) -> torch.Tensor:
        """The frame's W+ ``[1, num_ws, w_dim]`` on the device: walk, style mixing, truncation, directions."""
        return self.compute(self.prepare(values, frame_time))

    def synthesis_kwargs(self, values: Mapping[str, float], frame_time: FrameTime) -> dict:
        """``noise_mode``, ``noise_gain`` (a 0-d device tensor) and ``transform`` (StyleGAN3: a 3x3 device
        tensor, the model's stored transform times the ``latent.xform.*`` one; StyleGAN2: None).

        ``animated`` noise: the stored noise breathes over one walk period, gain
        ``strength * (1 - cos(2 pi phase))`` (mean ``strength``, back to 0 at each period).
        """
        prepared = self._prepared
        if prepared is None or prepared[0] is not values or prepared[1] != frame_time:
            self.prepare(values, frame_time)
        transform = None
        if self._xform is not None:
            stored = self.G.synthesis.input.transform
            transform = torch.matmul(stored, self._user_xform, out=self._xform)    # [3, 3], in place
        return {"noise_mode": self._noise_mode, "noise_gain": self._gain, "transform": transform}

    @property
    def noise_mode(self) -> str:
        """The noise mode of the last prepared frame (a host choice, like the plan)."""
        return self._noise_mode

    def device_kwargs(self) -> dict:
        """The device half of :meth:`synthesis_kwargs` for the prepared frame, as a pure function of device
        tensors (for a traced frame): ``noise_gain`` (0-d) and, for StyleGAN3, ``transform`` (3x3)."""
        transform = None
        if self._xform is not None:
            transform = self.G.synthesis.input.transform @ self._user_xform          # [3, 3]
        return {"noise_gain": self._gain, "transform": transform}

    # ------------------------------------------------------------------ host half
    @staticmethod
    def _value(values: Mapping[str, float], name: str) -> float:
        return float(values.get(name, DEFAULTS[name]))

    @staticmethod
    def _choice(values: Mapping[str, float], name: str, choices: tuple[str, ...]) -> str:
        index = int(round(float(values.get(name, DEFAULTS[name]))))
        return choices[min(max(index, 0), len(choices) - 1)]

    def _item(self, k: int, seed: int) -> tuple[Keyframe, int | None]:
        if self.keyframes:
            i = k % len(self.keyframes)
            return self.keyframes[i], self._file_rows[i]
        return Keyframe(seed=seed + k), None

    def _walk_time(self, values: Mapping[str, float], ft: FrameTime) -> float:
        beats = self._value(values, "latent.walk.beats") > 0.5
        return self._timer(ft.beat if beats else ft.t, self._value(values, "latent.walk.period"), beats)

    def prepare(self, values: Mapping[str, float], ft: FrameTime) -> tuple[str, bool]:
        """Host half of a frame: fill and send the scalar tensor; returns the plan for :meth:`compute`."""
        host, num_ws = self._host, self.G.num_ws
        cls = int(self._value(values, "latent.class")) if self.G.c_dim else 0
        mode = self._choice(values, "latent.walk.mode", WALK_MODES)
        seed = int(self._value(values, "latent.seed"))
        tau = self._walk_time(values, ft)
        a, b, f, cos, sin = self._item(0, seed), self._item(0, seed), 0.0, 1.0, 0.0
        if mode in ("lerp", "slerp"):
            k, f = segment(tau, len(self.keyframes) or None)
            a, b = self._item(k, seed), self._item(k + 1, seed)
            f = ease(f, self._choice(values, "latent.walk.easing", EASINGS))
        elif mode == "circle":
            b = self._item(1, seed) if len(self.keyframes) > 1 else (Keyframe(seed=seed + 1), None)
            angle = 2.0 * math.pi * loop_phase(tau)
            cos, sin = math.cos(angle), math.sin(angle)
        in_z = (self._choice(values, "latent.walk.space", WALK_SPACES) == "z" and mode != "off"
                and a[0].seed is not None and b[0].seed is not None)
        mix_seed = int(self._value(values, "latent.mix.seed")) if self._mix_row is None else None
        seeds = [kf.seed for kf, row in (a, b) if row is None]
        seeds += [mix_seed] if mix_seed is not None else []
        rows = iter(self.table.rows([int(s) for s in seeds if s is not None], cls))
        row_a = a[1] if a[1] is not None else next(rows)
        row_b = b[1] if b[1] is not None else next(rows)
        row_mix = self._mix_row if self._mix_row is not None else next(rows)
        if mode in ("noise", "random"):
            f = self._wander(mode, values, tau, a[0], self.G.z_dim if in_z else self.G.w_dim)
        host[SCALARS["walk.f"]], host[SCALARS["walk.cos"]], host[SCALARS["walk.sin"]] = f, cos, sin
        host[SCALARS["walk.radius"]] = self._value(values, "latent.walk.radius")
        host[SCALARS["row.a"]], host[SCALARS["row.b"]], host[SCALARS["row.mix"]] = row_a, row_b, row_mix
        host[SCALARS["psi"]] = self._value(values, "latent.psi")
        host[SCALARS["cutoff"]] = int(self._value(values, "latent.cutoff")) or num_ws
        host[SCALARS["mix.amount"]] = self._value(values, "latent.mix.amount")
        host[SCALARS["mix.start"]] = int(self._value(values, "latent.mix.start"))
        host[SCALARS["mix.end"]] = int(self._value(values, "latent.mix.end")) or num_ws
        self._prepare_noise(values, ft)
        self._prepare_transform(values)
        self._prepare_directions(values, ft)
        self._scalars.write(host)
        plan = (mode, in_z)
        self._prepared = (values, ft, plan)
        return plan

    def _wander(self, mode: str, values: Mapping[str, float], tau: float, anchor: Keyframe, dim: int) -> float:
        """Noise loop and random walk on the host: sends what changed; returns the walk fraction."""
        walk_seed = anchor.seed if anchor.seed is not None else 0
        key = (dim, walk_seed)
        if mode == "noise":
            loop = _cached(self._noise, key, lambda: NoiseLoop(dim, walk_seed, harmonics=HARMONICS))
            if self._sent.get(("noise", dim)) is not loop:
                self._noise_basis[dim].write(loop.basis)
                self._sent["noise", dim] = loop
            self._host[SCALARS["noise.0"]:SCALARS["noise.0"] + 2 * HARMONICS] = loop.coefficients(loop_phase(tau))
            return 0.0
        walk = _cached(self._random, key, lambda: RandomWalk(dim, config=RandomWalkConfig(seed=walk_seed)))
        x0, x1, f = walk.ends(tau, self._value(values, "latent.walk.momentum"))
        if walk.moved or self._sent.get(("random", dim)) is not walk:
            self._random_ends[dim].write(np.stack([x0, x1]))
            self._sent["random", dim] = walk
            walk.moved = False
        return f

    def _prepare_noise(self, values: Mapping[str, float], ft: FrameTime) -> None:
        mode = self._choice(values, "latent.noise.mode", NOISE_MODES)
        gain = self._value(values, "latent.noise.strength")
        if mode == "animated":
            phase = loop_phase(self._walk_time(values, ft))
            gain *= 1.0 - math.cos(2.0 * math.pi * phase)
            mode = "const"
        self._noise_mode = mode
        self._host[SCALARS["noise.gain"]] = gain

    def _prepare_transform(self, values: Mapping[str, float]) -> None:
        if self._xform is None:
            return
        key = (self._value(values, "latent.xform.x"), self._value(values, "latent.xform.y"),
               self._value(values, "latent.xform.angle"))
        if key != self._xform_key:
            self._xform_host = np.eye(3) if key == (0.0, 0.0, 0.0) else input_transform(*key)
            self._xform_key = key
        self._host[SCALARS["xform.0"]:SCALARS["xform.0"] + 9] = self._xform_host.reshape(-1)

    def _prepare_directions(self, values: Mapping[str, float], ft: FrameTime) -> None:
        if self.directions is None:
            return
        first = SCALARS["dir.0"]
        for k in range(LIVE_COUNT):
            self._host[first + k] = self._value(values, f"latent.dir.{k}")
        self._host[SCALARS["dir.start"]] = int(self._value(values, "latent.dir.start"))
        self._host[SCALARS["dir.end"]] = int(self._value(values, "latent.dir.end")) or self.G.num_ws
        self.directions.update(self._choice(values, "latent.dir.source", SOURCES), ft.t)

    # ------------------------------------------------------------------ device half
    def _scalar(self, name: str) -> torch.Tensor:
        return self._scalars.tensor.select(0, SCALARS[name])

    def _map(self, z: torch.Tensor) -> torch.Tensor:
        return self.G.mapping(z, self.table.label(), truncation_psi=1.0)          # [1, num_ws, w_dim]

    def _rows_between(self, start: str, end: str) -> torch.Tensor:
        rows = self._row_ids                                                        # [num_ws, 1]
        return ((rows >= self._scalar(start)) & (rows < self._scalar(end))).to(rows.dtype)

    @torch.no_grad()
    def compute(self, plan: tuple[str, bool]) -> torch.Tensor:
        """Device half of a frame: W+ ``[1, num_ws, w_dim]`` from the scalar tensor and the table."""
        mode, in_z = plan
        w_avg = self.w_avg                                                          # [w_dim]
        scalars = self._scalars.tensor
        rows = scalars.narrow(0, SCALARS["row.a"], 3).long()                        # [3] a, b, mix
        ends = self.table.w.index_select(0, rows)                                   # [3, num_ws, w_dim]
        wa, wb, wm = ends.narrow(0, 0, 1), ends.narrow(0, 1, 1), ends.narrow(0, 2, 1)
        f = self._scalar("walk.f")
        if in_z:
            z = self.table.z.tensor.index_select(0, rows.narrow(0, 0, 2))         # [2, z_dim]
            za, zb = z.narrow(0, 0, 1), z.narrow(0, 1, 1)                           # [1, z_dim]
        if mode == "off":
            w = wa
        elif mode in ("lerp", "slerp") and in_z:
            w = self._map(torch.lerp(za, zb, f) if mode == "lerp" else slerp(za, zb, f))
        elif mode == "lerp":
            w = torch.lerp(wa, wb, f)
        elif mode == "slerp":
            w = w_avg + slerp(wa - w_avg, wb - w_avg, f)
        elif mode == "circle":
            cos, sin = self._scalar("walk.cos"), self._scalar("walk.sin")
            w = self._map(za * cos + zb * sin) if in_z else w_avg + (wa - w_avg) * cos + (wb - w_avg) * sin
        else:
            dim = self.G.z_dim if in_z else self.G.w_dim
            if mode == "noise":
                coeffs = scalars.narrow(0, SCALARS["noise.0"], 2 * HARMONICS)          # [2H]
                offset = coeffs @ self._noise_basis[dim].tensor                         # [dim]
            else:
                walk = self._random_ends[dim].tensor                                    # [2, dim]
                offset = torch.lerp(walk.select(0, 0), walk.select(0, 1), f)            # [dim]
            step = self._scalar("walk.radius") * offset                                 # [dim]
            if in_z:
                w = self._map(za + step)
            else:
                spread = (wa - w_avg).square().mean().sqrt()                            # []
                w = wa + step * spread                                                  # [1, num_ws, w_dim]
        mixing = self._rows_between("mix.start", "mix.end") * self._scalar("mix.amount")   # [num_ws, 1]
        w = torch.lerp(w, wm, mixing)
        psi = torch.where(self._row_ids < self._scalar("cutoff"), self._scalar("psi"), 1.0)  # [num_ws, 1]
        w = torch.lerp(w_avg.expand_as(w), w, psi)                                  # [1, num_ws, w_dim]
        if self.directions is not None:
            amounts = scalars.narrow(0, SCALARS["dir.0"], LIVE_COUNT)               # [count]
            move = amounts @ self.directions.basis.tensor                           # [w_dim]
            w = w + self._rows_between("dir.start", "dir.end") * move
        return w


def _cached(cache: OrderedDict, key: tuple, make: Callable[[], object], capacity: int = 4):
    """Least-recently-used cache of walkers (switching Z/W or seeds back and forth rebuilds nothing)."""
    hit = cache.get(key)
    if hit is None:
        hit = cache[key] = make()
        if len(cache) > capacity:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return hit
