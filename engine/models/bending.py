"""Network bending: live transforms of one layer's feature maps, per layer, every frame.

After "Network Bending: Expressive Manipulation of Deep Generative Models" (Broad, Leymarie and
Grierson, 2021): a transform inserted after a layer of the generator changes everything the later
layers make of it. Layer ``i`` is the layer-table index (the w row that styles it); its feature map
is the output of its convolution: StyleGAN2 ``b{R}.conv0`` / ``b{R}.conv1`` and, for the last index,
the final ToRGB; StyleGAN3 the Fourier input (0), ``L0`` ... and the ToRGB layer (last).

Registry parameters ``bend.<layer>.<op>`` (:func:`params`); every amount 0 is the identity:

===============  ===========================================================================
op               effect (``W``, ``H`` = the map's width and height in pixels)
===============  ===========================================================================
translate_x/_y   shift by ``amount * W`` (``* H``) pixels, right / down; 1 = one full turn
rotate           degrees, counter-clockwise on screen, about the map centre (90 = ``torch.rot90``)
scale            zoom by ``2 ** amount`` about the centre (1 = twice as large, -1 = half, tiled)
flip             mirror left-right through a squeeze: x scaled by ``1 - 2 * amount`` (1 = mirrored)
invert           each channel's negative about its mean: ``lerp(x, 2 * mean - x, amount)``
multiply         ``x * (1 + amount)``
ablate           zero that fraction of the channels (1 = all), chosen by a seeded permutation
===============  ===========================================================================

Padding: wrap-around. The geometric ops treat each map as a torus, so an integer translation is
``torch.roll`` and a zoomed-out map repeats; samples are bilinear, at positions snapped to 1/1024
pixel (quarter turns and integer shifts are bit-exact on power-of-two maps, i.e. all of StyleGAN2).
Order: geometric ops, invert, multiply, ablate.

Per frame: ``bender.update(snapshot.values)`` compares the amounts with the last frame's on the host
(the values are host floats anyway) and, only when they changed, writes them in place into one small
device tensor ``[layers, ops]`` (one non-blocking copy from a pinned staging ring): no device allocation
and no host sync, and the traced forward pass reads the amounts from that tensor, so changing a value
never retraces.
An op whose amount is 0 is skipped entirely and a layer with no active op has no hook at all, so zero
amounts cost nothing and leave frames bit-identical.
Switching an op on or off changes the forward pass: :attr:`NetworkBender.signature` names the active
ops, for whoever caches compiled or captured frames.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

from engine.core.params import ParamSpec
from engine.core.uploads import StagedUpload

from .generator import GeneratorInputError

OPS = ("translate_x", "translate_y", "rotate", "scale", "flip", "invert", "multiply", "ablate")
GEOMETRIC = frozenset(OPS[:5])
RANGES = {"translate_x": (-1.0, 1.0), "translate_y": (-1.0, 1.0), "rotate": (-360.0, 360.0),
          "scale": (-3.0, 3.0), "flip": (0.0, 1.0), "invert": (0.0, 1.0), "multiply": (-2.0, 4.0),
          "ablate": (0.0, 1.0)}
DOCS = {"translate_x": "shift right, in map widths (wraps around)", "translate_y": "shift down, in map heights",
        "rotate": "rotate, degrees counter-clockwise", "scale": "zoom by 2**amount (negative tiles)",
        "flip": "mirror left-right (1 = mirrored)", "invert": "each channel's negative about its mean",
        "multiply": "features times 1 + amount", "ablate": "fraction of channels zeroed (seeded)"}
SNAP = 1024.0                  # sample positions snapped to 1/1024 pixel: exact for quarter turns and shifts
MIN_FLIP_SCALE = 1e-2          # |1 - 2 flip| is kept above this (half-way would divide by zero)
_INDEX = {op: k for k, op in enumerate(OPS)}


def param_name(layer: int, op: str) -> str:
    """The registry name of one amount: ``bend.<layer>.<op>``."""
    return f"bend.{layer}.{op}"


def params(num_layers: int) -> list[ParamSpec]:
    """The live ``bend.*`` parameters of a generator with ``num_layers`` layers (all default 0)."""
    return [ParamSpec(param_name(i, op), 0.0, *RANGES[op], smoothing=0.05, doc=f"layer {i}: {DOCS[op]}")
            for i in range(num_layers) for op in OPS]


def _wrap_pad(x: torch.Tensor) -> torch.Tensor:
    """``x`` [N, C, H, W] with its first row and column repeated after the last, in ``x``'s own memory
    layout: ``F.pad(mode="circular")`` returns NCHW, and from a channels_last map (what impl='fast'
    leaves from 32x32 up) that transposing copy cost 5x the sampling's own copy here. Sampling a turned
    grid from channels_last is also ~2x faster on the CPU (each pixel's channels share cache lines)."""
    n, c, h, w = x.shape
    layout = torch.channels_last if x.is_contiguous(memory_format=torch.channels_last) and c > 1 \
        else torch.contiguous_format
    out = torch.empty((n, c, h + 1, w + 1), dtype=x.dtype, device=x.device, memory_format=layout)
    out[:, :, :h, :w] = x
    out[:, :, :h, w] = x[:, :, :, 0]
    out[:, :, h, :] = out[:, :, 0, :]
    return out


def bendable_modules(G: Any) -> list[torch.nn.Module]:
    """The module whose output is layer ``i``'s feature map, for every layer-table index ``i``."""
    target = getattr(G, "live", G)                  # a BlendedGenerator bends its live generator
    synthesis = target.synthesis
    if target.family == "stylegan2":
        modules = [layer for block in synthesis.blocks()
                   for layer in (getattr(block, "conv0", None), block.conv1) if layer is not None]
        modules.append(synthesis.blocks()[-1].torgb)
    else:
        modules = [synthesis.input] + [getattr(synthesis, name) for name in synthesis.layer_names]
    if len(modules) != len(target.layers):
        raise GeneratorInputError(f"found {len(modules)} bendable layers but the layer table has {len(target.layers)}")
    return modules


class NetworkBender:
    """Per-layer feature-map transforms installed on a generator (or a BlendedGenerator's live copy).

    ``seed`` chooses the order in which ``ablate`` removes each layer's channels. Install it after
    the generator is on its device; :meth:`reset` takes every hook away again.
    """

    def __init__(self, G: Any, seed: int = 0) -> None:
        self.modules = bendable_modules(G)
        self.num_layers = len(self.modules)
        table = getattr(G, "live", G).layers
        self._shapes = [(entry.channels, entry.resolution) for entry in table]       # output [C, R, R]
        self.seed = seed
        first = next(getattr(G, "live", G).synthesis.parameters())
        self.device = first.device
        self._staged = StagedUpload((self.num_layers, len(OPS)), self.device)    # pinned ring -> device
        self.amounts = self._staged.tensor                                         # [L, ops], fixed address
        with torch.inference_mode(False):     # normal tensors, writable in place inside and outside it
            self._rows = list(self.amounts.unbind(0))                              # views, one per layer
        self._names = [param_name(i, op) for i in range(self.num_layers) for op in OPS]
        self._host = np.zeros(self.num_layers * len(OPS), dtype=np.float32)
        self._active: list[frozenset[str]] = [frozenset()] * self.num_layers
        self._hooks: dict[int, Any] = {}
        self._ranks: dict[int, torch.Tensor] = {}
        self._grids: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor, float, float]] = {}

    # ------------------------------------------------------------------ control (host side)
    @property
    def signature(self) -> tuple[tuple[int, tuple[str, ...]], ...]:
        """The active ops per layer: ``((layer, (op, ...)), ...)``; empty when nothing bends."""
        return tuple((i, tuple(op for op in OPS if op in ops)) for i, ops in enumerate(self._active) if ops)

    def update(self, values: Mapping[str, float]) -> bool:
        """Follow a snapshot's ``bend.*`` values (absent names count as 0). Returns whether anything
        changed; when nothing did it costs one pass over the names and touches no tensor."""
        amounts = np.fromiter((values.get(name, 0.0) for name in self._names), np.float32, len(self._names))
        return self._apply(amounts)

    def set(self, layer: int, op: str, amount: float) -> None:
        """Set one amount from Python (``bender.set(3, "rotate", 90)``); 0 switches the op off."""
        if op not in _INDEX:
            raise GeneratorInputError(f"unknown bending op {op!r}; use one of {', '.join(OPS)}")
        if not isinstance(layer, (int, np.integer)) or not 0 <= layer < self.num_layers:
            raise GeneratorInputError(f"layer {layer!r} does not exist; this model has layers 0..{self.num_layers - 1}")
        if not math.isfinite(amount):
            raise GeneratorInputError(f"bend amount {amount!r} for layer {layer} {op} is not a finite number")
        amounts = self._host.copy()
        amounts[layer * len(OPS) + _INDEX[op]] = amount
        self._apply(amounts)

    def reset(self) -> None:
        """Every amount back to 0: every hook removed, the generator renders as if never bent."""
        self._apply(np.zeros_like(self._host))

    def _apply(self, amounts: np.ndarray) -> bool:
        if np.array_equal(amounts, self._host):
            return False
        self._host = amounts
        self._upload(amounts)
        per_layer = amounts.reshape(self.num_layers, len(OPS))
        for i, row in enumerate(per_layer):
            active = frozenset(op for op, value in zip(OPS, row) if value != 0.0)
            if active != self._active[i]:
                self._active[i] = active
                self._hook_layer(i, bool(active))
        return True

    def _upload(self, amounts: np.ndarray) -> None:
        """Write the amounts into the device tensor in place: one non-blocking copy from a pinned staging
        buffer (:class:`~engine.core.uploads.StagedUpload`), no host wait, the tensor's address fixed."""
        self._staged.write(amounts.reshape(self.num_layers, len(OPS)))

    def _hook_layer(self, i: int, on: bool) -> None:
        handle = self._hooks.pop(i, None)
        if handle is not None:
            handle.remove()
        if on:
            channels, size = self._shapes[i]
            with torch.inference_mode(False):             # made here, before the frame, as normal tensors
                self._rank(i, channels)
                self._grid(size, size)
            self._hooks[i] = self.modules[i].register_forward_hook(partial(self._bend, i))

    # ------------------------------------------------------------------ the transforms (device side)
    def _bend(self, i: int, module: torch.nn.Module, args: Sequence[Any], x: torch.Tensor) -> torch.Tensor:
        return self.bend(i, x)

    def bend(self, i: int, x: torch.Tensor) -> torch.Tensor:
        """Layer ``i``'s active transforms applied to a feature map ``x`` [N, C, H, W] (what its hook does)."""
        ops, a = self._active[i], self._rows[i]                                  # a: [ops] device view
        if ops & GEOMETRIC:
            x = self._warp(x, a)                                                 # [N, C, H, W]
        if "invert" in ops:
            mean = x.mean(dim=(2, 3), keepdim=True)                              # [N, C, 1, 1]
            x = torch.lerp(x, 2 * mean - x, a[_INDEX["invert"]].to(x.dtype))
        if "multiply" in ops:
            x = x * (1 + a[_INDEX["multiply"]]).to(x.dtype)
        if "ablate" in ops:
            keep = (self._rank(i, x.shape[1]) >= a[_INDEX["ablate"]]).to(x.dtype)  # [C]
            x = x * keep.view(1, -1, 1, 1)
        return x

    def _rank(self, i: int, channels: int) -> torch.Tensor:
        """Each channel's place in this layer's seeded ablation order, in [0, 1): [C] (made once, when
        the layer first bends; the frame finds it ready)."""
        rank = self._ranks.get(i)
        if rank is None or rank.numel() != channels:
            order = torch.randperm(channels, generator=torch.Generator().manual_seed(self.seed * 100_003 + i))
            rank = self._ranks[i] = (order.float() / channels).to(self.device)
        return rank

    def _grid(self, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
        """Pixel offsets of every output pixel from the map centre: dx, dy [H, W], and the centre (made
        once per map size, when a layer of that size first bends)."""
        key = (h, w)
        grid = self._grids.get(key)
        if grid is None:
            cy, cx = (h - 1) / 2, (w - 1) / 2
            dy, dx = torch.meshgrid(torch.arange(h, dtype=torch.float32) - cy,
                                    torch.arange(w, dtype=torch.float32) - cx, indexing="ij")
            grid = self._grids[key] = (dx.to(self.device), dy.to(self.device), cx, cy)
        return grid

    def _warp(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Translate, rotate, scale and flip ``x`` [N, C, H, W] about its centre, wrapping around.

        Source positions are computed per output pixel, wrapped into [0, W) x [0, H), and sampled
        bilinearly by ``grid_sample`` from the map padded by one wrapped row and column (so samples
        between the last and the first pixel blend the two). With power-of-two sizes the
        normalisation is exact, and so are quarter turns and integer shifts (StyleGAN3's margins
        give other sizes: there they are exact to within float rounding of the sample position)."""
        n, c, h, w = x.shape
        dx0, dy0, cx, cy = self._grid(h, w)
        angle = a[_INDEX["rotate"]] * (math.pi / 180)
        cos, sin = torch.cos(angle), torch.sin(angle)
        shrink = torch.exp2(-a[_INDEX["scale"]])                                 # inverse zoom
        mirror = 1 - 2 * a[_INDEX["flip"]]
        mirror = torch.copysign(mirror.abs().clamp_min(MIN_FLIP_SCALE), mirror)
        dx = dx0 - a[_INDEX["translate_x"]] * w                                  # [H, W] output -> source,
        dy = dy0 - a[_INDEX["translate_y"]] * h                                  # undoing each step in turn
        sx = (cos * dx - sin * dy) * (shrink / mirror) + cx
        sy = (sin * dx + cos * dy) * shrink + cy
        sx = torch.remainder(torch.round(sx * SNAP) / SNAP, w)                   # wrapped, snapped
        sy = torch.remainder(torch.round(sy * SNAP) / SNAP, h)
        grid = torch.stack(((2 * sx - w) / w, (2 * sy - h) / h), dim=-1)         # [H, W, 2] in [-1, 1)
        padded = _wrap_pad(x)                                                    # [N, C, H + 1, W + 1]
        grid = grid.to(x.dtype).unsqueeze(0).expand(n, -1, -1, -1)
        return torch.nn.functional.grid_sample(padded, grid, mode="bilinear", padding_mode="border",
                                               align_corners=True)               # [N, C, H, W]
