"""``BlendedGenerator``: two or more sibling generators mixed layer by layer, every frame, no rebuild.

It keeps one *live* generator (a copy of model A's module) and every model's weights resident on the
device as ``[K, numel]`` stacks (:mod:`engine.blend.stacks`). A blend change rewrites, in place, only
the live tensors whose coefficients changed; the forward pass is the plain generator's, so mapping,
synthesis, a captured CUDA graph and every metadata attribute behave exactly as for one model.

The render loop calls, per frame::

    state = engine.blend.masks.compose(snapshot.values, num_layers)
    blended.apply(state)      # returns at once when the state equals the previous one

Python users call :meth:`set_blend` (two-model t values) or :meth:`set_weights` (N-way rows).
Both *persist*: each call changes only what it names and keeps every earlier layer value, resolution
override, kind override, mapping value and N-way row; ``set_blend(..., reset=True)`` (or
:meth:`reset_blend`) first returns everything to model A. :meth:`apply` is the exception: it
replaces the whole blend with the composed state. The composition rule is in :mod:`engine.blend.masks`.

It is a :class:`~engine.models.generator.Generator` like the models it blends: the metadata, the
layer table, ``impl``, ``precision`` and ``num_fp16_res`` are the live generator's (settable here).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import IncompatibleModels
from .masks import BLEND_KINDS, BlendState, MaskError, finite
from .stacks import BlendTargets, KeyIndex, WeightStacks, blendable_keys, block_resolution

_DELEGATED = frozenset({"family", "config", "init_kwargs", "z_dim", "w_dim", "c_dim", "num_ws", "img_resolution",
                        "img_channels", "layers", "num_parameters"})


def _describe_key(table, key: str) -> str:
    try:
        layer = table.layer_of(key)
    except KeyError:
        return key
    return key if layer is None else f"{key} (layer {layer}, {table[layer].name})"


def check_compatible(models: Sequence[Any]) -> None:
    """Raise :class:`IncompatibleModels` unless every model has model A's family, keys and shapes."""
    if len(models) < 2:
        raise IncompatibleModels(f"blending needs two or more models, got {len(models)}")
    a = models[0]
    sd_a = a.state_dict()
    for k, b in enumerate(models[1:], start=1):
        who = f"model {k} ({chr(ord('A') + k) if k < 26 else k}) and model A"
        if getattr(b, "family", None) != getattr(a, "family", None):
            raise IncompatibleModels(f"{who} are of different families ({getattr(b, 'family', '?')} vs "
                                     f"{getattr(a, 'family', '?')}); blend siblings fine-tuned from one base")
        sd_b = b.state_dict()
        only_a = [key for key in sd_a if key not in sd_b]
        only_b = [key for key in sd_b if key not in sd_a]
        if only_a or only_b:
            names = [f"{_describe_key(a.layers, key)} only in A" for key in only_a[:3]]
            names += [f"{key} only in model {k}" for key in only_b[:3]]
            raise IncompatibleModels(f"{who} have different layers: {'; '.join(names)}; likely a different "
                                     f"resolution or architecture (blend siblings fine-tuned from one base)")
        shapes = [key for key in sd_a if sd_a[key].shape != sd_b[key].shape]
        if shapes:
            names = [f"{_describe_key(a.layers, key)} {list(sd_a[key].shape)} vs {list(sd_b[key].shape)}"
                     for key in shapes[:3]]
            raise IncompatibleModels(f"{who} differ in shape: {'; '.join(names)}; likely a different channel "
                                     f"config (channel_base/channel_max), or not fine-tuned from one base")
        fixed = [key for key in a.layers.fixed if not torch.equal(sd_a[key], sd_b[key].to(sd_a[key].device))]
        if fixed:
            raise IncompatibleModels(f"{who} differ in fixed filters ({', '.join(fixed[:3])}); likely a "
                                     f"different config (filter taps, margins, sampling rates)")


class BlendedGenerator:
    """Per-layer blend of K compatible generators (model A = ``models[0]``)."""

    def __init__(self, models: Sequence[Any]) -> None:
        models = list(models)
        check_compatible(models)
        self.num_models = len(models)
        with torch.inference_mode(False):           # normal tensors even when built under inference_mode
            self.live: Any = copy.deepcopy(models[0]).eval()
        for p in self.live.parameters():
            p.requires_grad_(False)
        table = self.live.layers
        keys = blendable_keys(table)
        self._stacks = WeightStacks([m.state_dict() for m in models], self.live, keys)
        self._index = KeyIndex(table, keys)
        self._targets = BlendTargets(len(table), self.num_models)
        self._block_resolutions = sorted({block_resolution(table, k) for k in keys} - {0})
        self._last_state: BlendState | None = None
        self.keys_written = self._refresh()

    # ------------------------------------------------------------------ the Generator API
    def __getattr__(self, name: str):
        if name in _DELEGATED:
            return getattr(self.live, name)
        raise AttributeError(f"BlendedGenerator has no attribute {name!r}")

    @property
    def mapping(self) -> torch.nn.Module:
        """The live mapping network (blended with ``blend.mapping``, ``w_avg`` included)."""
        return self.live.mapping

    @property
    def synthesis(self) -> torch.nn.Module:
        """The live synthesis network (blended per layer)."""
        return self.live.synthesis

    @property
    def impl(self) -> str:
        """The op implementation of the live generator ('ref' or 'fast'); settable."""
        return self.live.impl

    @impl.setter
    def impl(self, value: str) -> None:
        self.live.impl = value

    @property
    def precision(self) -> str:
        """When the live generator's fp16 layers compute in float16 ('auto', 'fp32', 'fp16'); settable."""
        return self.live.precision

    @precision.setter
    def precision(self, value: str) -> None:
        self.live.precision = value

    @property
    def num_fp16_res(self) -> int:
        """How many of the highest resolutions are fp16 layers; settable."""
        return self.live.num_fp16_res

    @num_fp16_res.setter
    def num_fp16_res(self, value: int) -> None:
        self.live.num_fp16_res = value

    @property
    def device(self) -> torch.device:
        return self._stacks.device

    @property
    def resident_bytes(self) -> int:
        """Device memory held by the K resident weight sets."""
        return self._stacks.num_bytes

    def __call__(self, *args, **kwargs) -> torch.Tensor:
        return self.live(*args, **kwargs)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The blended weights as a plain state dict (what ``netblend blend`` saves)."""
        return {k: v.detach().clone() for k, v in self.live.state_dict().items()}

    # ------------------------------------------------------------------ blending
    def _refresh(self) -> int:
        return self._stacks.write(self._index.rows(self._targets))

    def _layer_index(self, i: object) -> int:
        if not isinstance(i, (int, np.integer)) or not 0 <= int(i) < len(self.layers):
            raise MaskError(f"layer {i!r} does not exist; this model has layers 0..{len(self.layers) - 1}")
        return int(i)

    def _resolution(self, r: object) -> int:
        if not isinstance(r, (int, np.integer)) or int(r) not in self._block_resolutions:
            raise MaskError(f"no block at resolution {r!r}; this model has "
                            f"{', '.join(map(str, self._block_resolutions))}")
        return int(r)

    def set_blend(self, layers: Mapping[int, float] | None = None,
                  resolutions: Mapping[int, float | None] | None = None,
                  kinds: Mapping[str, float | None] | None = None, mapping: float | None = None,
                  reset: bool = False) -> int:
        """Set two-model t values (0 = A, 1 = B, outside [0, 1] overblend); any subset.

        ``layers`` by layer-table index; ``resolutions`` by synthesis block (replaces the layer t of
        every key of that block; ``None`` removes the override); ``kinds`` overrides every key of a
        kind (``None`` removes the override); ``mapping`` for the mapping network and ``w_avg``.

        Everything set persists across calls: a call changes only what it names, so
        ``set_blend(resolutions={32: 1})`` then ``set_blend(layers={0: 0.5})`` keeps block 32 at B.
        ``reset=True`` first returns every layer and the mapping to model A and drops every
        resolution and kind override and N-way row (the safety range stays), then applies this
        call's values: ``set_blend(layers={3: 1}, reset=True)`` is "A everywhere except layer 3".
        NaN/inf and unknown layers, resolutions or kinds raise :class:`MaskError` and change nothing.
        Returns the number of tensors rewritten.
        """
        tg = self._targets
        if reset:
            tg = BlendTargets(len(self.layers), self.num_models)
            tg.safety = self._targets.safety
        new_layers = {self._layer_index(i): tg.row(finite(f"layer {i}", t))
                      for i, t in (layers or {}).items()}
        new_res = {self._resolution(r): None if t is None else tg.row(finite(f"resolution {r}", t))
                   for r, t in (resolutions or {}).items()}
        new_kinds: dict[str, np.ndarray | None] = {}
        for kind, t in (kinds or {}).items():
            if kind not in BLEND_KINDS:
                raise MaskError(f"unknown kind {kind!r}; kinds: {', '.join(BLEND_KINDS)}")
            new_kinds[kind] = None if t is None else tg.row(finite(f"kind {kind}", t))
        new_mapping: np.ndarray | None = None if mapping is None else tg.row(finite("mapping", mapping))
        self._targets = tg
        for i, row in new_layers.items():
            tg.layers[i] = row
        for resolution, res_row in new_res.items():
            if res_row is None:
                tg.resolutions.pop(resolution, None)
            else:
                tg.resolutions[resolution] = res_row
        for kind, kind_row in new_kinds.items():
            if kind_row is None:
                tg.kinds.pop(kind, None)
            else:
                tg.kinds[kind] = (kind_row, 1.0)
        if new_mapping is not None:
            tg.mapping = new_mapping
        self._last_state = None
        return self._refresh()

    def reset_blend(self) -> int:
        """Model A everywhere: every layer and the mapping at t = 0, no resolution, kind or N-way
        overrides (the safety range stays). Same as ``set_blend(reset=True)``."""
        return self.set_blend(reset=True)

    def _nway_row(self, weights: Sequence[float], mode: str) -> np.ndarray:
        w = np.array([finite("weight", x) for x in weights], dtype=np.float64)
        if w.shape != (self.num_models,):
            raise MaskError(f"expected {self.num_models} weights (one per model), got {len(w)}")
        if mode == "convex":
            if (w < 0).any() or w.sum() <= 0:
                raise MaskError("convex weights must be >= 0 with a positive sum; mode='free' extrapolates")
            return w / w.sum()
        if mode == "free":
            w[0] = 1.0 - w[1:].sum()          # base + sum_k w_k (M_k - base); w_0 is implied
            return w
        raise MaskError(f"mode {mode!r} is not 'convex' or 'free'")

    def set_weights(self, layers: Mapping[int, Sequence[float]] | Sequence[float] | None = None,
                    mode: str = "convex", mapping: Sequence[float] | None = None) -> int:
        """N-way weights, one per model: per layer (``{i: [w_0, ..]}``) or one list for every layer.

        ``mode='convex'``: weights >= 0, normalised to sum one. ``mode='free'``: the result is
        ``base + sum_k w_k (M_k - base)`` (``w_0`` is ignored; extrapolation allowed). The safety
        range clamps each ``w_k`` of models 1..K-1. Returns the number of tensors rewritten.
        """
        if layers is None:
            per_layer: dict[int, np.ndarray] = {}
        elif isinstance(layers, Mapping):
            per_layer = {self._layer_index(i): self._nway_row(w, mode) for i, w in layers.items()}
        else:
            row = self._nway_row(layers, mode)
            per_layer = {i: row for i in range(len(self.layers))}
        new_mapping: np.ndarray | None = None if mapping is None else self._nway_row(mapping, mode)
        for i, row in per_layer.items():
            self._targets.layers[i] = row
        if new_mapping is not None:
            self._targets.mapping = new_mapping
        self._last_state = None
        return self._refresh()

    def set_safety(self, lo: float, hi: float) -> int:
        """The range every coefficient (t, or w_k of models 1..K-1) is clamped to."""
        lo, hi = sorted((finite("safety min", lo), finite("safety max", hi)))
        self._targets.safety = (lo, hi)
        self._last_state = None
        return self._refresh()

    def apply(self, state: BlendState) -> int:
        """Make the live weights follow a composed :class:`BlendState` (A-B t values, plus the
        weights of models C, D, ... from ``state.models`` in free N-way form).

        Returns at once (0) when ``state`` equals the previous one; otherwise rewrites only the
        tensors whose coefficients changed and returns how many. Replaces N-way rows set before.
        """
        if state == self._last_state:
            return 0
        if len(state.layers) != len(self.layers):
            raise MaskError(f"mask has {len(state.layers)} layers, the model has {len(self.layers)}")
        tg = self._targets
        others = state.models
        for i, t in enumerate(state.layers):
            tg.layers[i] = tg.row(t, others)
        tg.mapping = tg.row(state.mapping)
        tg.resolutions = {self._resolution(r): tg.row(t, others) for r, t in state.resolutions}
        tg.kinds = {kind: (tg.row(v, others), amount) for kind, v, amount in state.kinds}
        tg.safety = state.safety
        self._stacks.set_channels(*state.channels)
        self._last_state = state
        self.keys_written = self._refresh()
        return self.keys_written

    def coefficients(self) -> dict[str, list[float]]:
        """The current per-key coefficient rows (one weight per model), for display and tests."""
        rows = self._index.rows(self._targets)
        return {k: rows[j].tolist() for j, k in enumerate(self._index.keys)}
