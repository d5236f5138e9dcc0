"""The stacking core: K models' weights resident as one ``[K, total]`` stack, written into live tensors.

Works on plain state dicts and a :class:`~engine.models.layers.LayerTable`, so it is testable
without a generator. Every blendable key (layer keys and mapping keys; never ``LayerTable.fixed``)
gets one coefficient row ``c [K]`` per frame, and its live tensor is ``c @ stack``. Rows always sum
to one: ``c_0 = 1 - sum(c_1..c_K-1)``, so two models are ``c = [1 - t, t]`` and N-way weights are
``base + sum_k c_k (M_k - base)``.

:class:`BlendTargets` holds what the controls asked for (per-layer rows, mapping row, resolution and
kind overrides, safety range) and :class:`KeyIndex` turns it into per-key rows with numpy on the host
(tens of microseconds). :class:`WeightStacks` compares those rows with the previous frame's and
rewrites only the keys whose row changed, with ``matmul(row, stack, out=live)``: exact for one-hot
rows (t = 0 and t = 1 reproduce A and B bit for bit), one call per run of keys sharing a row. The
rows reach the device through a ring of staging buffers (pinned on CUDA) into one device tensor
updated in place: no allocation, no host wait, on CUDA, MPS and the CPU alike.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..core.uploads import StagedUpload
from .channels import ChannelSelection
from .masks import BLEND_KINDS, SAFETY_DEFAULT

_BLOCK = re.compile(r"^synthesis\.b(\d+)\.")
MAPPING_KIND = "mapping"
MAPPING_PREFIX = "mapping."


def block_resolution(table, key: str) -> int:
    """The synthesis block a key belongs to: StyleGAN2 ``synthesis.b{R}.*``; else its layer's size."""
    m = _BLOCK.match(key)
    if m:
        return int(m.group(1))
    layer = table.layer_of(key)
    return 0 if layer is None else int(table[layer].resolution)


def blendable_keys(table) -> list[str]:
    """Layer keys in index order, then mapping keys: everything a blend writes."""
    keys = [key for entry in table for key in entry.keys]
    return keys + [key for key, _ in table.mapping]


@dataclass
class BlendTargets:
    """What the controls asked for, as coefficient rows over K models (each row sums to one)."""

    num_layers: int
    num_models: int
    layers: np.ndarray = field(init=False)                    # [L, K]
    mapping: np.ndarray = field(init=False)                   # [K]
    resolutions: dict[int, np.ndarray] = field(default_factory=dict)         # R -> [K]
    kinds: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)  # kind -> ([K], amount)
    safety: tuple[float, float] = SAFETY_DEFAULT

    def __post_init__(self) -> None:
        self.layers = np.tile(self.row(0.0), (self.num_layers, 1))
        self.mapping = self.row(0.0)

    def row(self, t: float, others: Sequence[float] = ()) -> np.ndarray:
        """Two-model t as a K row ``[1 - t, t, 0, ...]`` (A to B), plus weights of models C, D, ...
        (``others``; model A takes what the rest leaves, so the row still sums to one)."""
        r = np.zeros(self.num_models)
        r[1] = t
        r[2:2 + len(others)] = others[:self.num_models - 2]
        r[0] = 1.0 - r[1:].sum()
        return r


class KeyIndex:
    """Per-key lookups (layer, kind, block resolution) as arrays, for vectorised composition."""

    def __init__(self, table, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        layer = [table.layer_of(k) for k in self.keys]
        self.is_mapping = np.array([i is None for i in layer])                     # [nk]
        self.layer = np.array([0 if i is None else i for i in layer])              # [nk]
        kinds = [table.kind_of(k) for k in self.keys]
        self.kind = {kind: np.array([k == kind for k in kinds]) for kind in BLEND_KINDS}
        res = np.array([block_resolution(table, k) for k in self.keys])
        self.resolution = np.where(self.is_mapping, -1, res)                       # [nk]

    def rows(self, targets: BlendTargets) -> np.ndarray:
        """Coefficient rows ``[nk, K]`` per key: layer -> resolution -> kind -> mapping -> safety."""
        w = targets.layers[self.layer]                                             # [nk, K]
        for resolution, row in targets.resolutions.items():
            w[self.resolution == resolution] = row
        for kind, (row, amount) in targets.kinds.items():
            sel = self.kind[kind]
            w[sel] += amount * (row - w[sel])
        w[self.is_mapping] = targets.mapping
        lo, hi = targets.safety
        w[:, 1:] = np.clip(w[:, 1:], lo, hi)
        w[:, 0] = 1.0 - w[:, 1:].sum(axis=1)
        return w


def _rebind(module: torch.nn.Module, key: str, view: torch.Tensor) -> None:
    """Make parameter or buffer ``key`` of ``module`` the tensor ``view`` (a view of a flat live buffer).

    A parameter becomes a new ``Parameter`` over the view (no gradient): unlike ``param.data = view``
    it shares the flat buffer's version counter, so ``tensor._version`` of every live tensor tells
    whether its part of the model (synthesis layers or mapping network) was rewritten.
    """
    prefix, _, name = key.rpartition(".")
    owner = module.get_submodule(prefix) if prefix else module
    if owner._parameters.get(name) is not None:
        owner._parameters[name] = torch.nn.Parameter(view, requires_grad=False)
    elif name in owner._buffers:
        owner._buffers[name] = view
    else:
        raise KeyError(f"{key} is neither a parameter nor a buffer of the live generator")


class WeightStacks:
    """One ``[K, total]`` stack of every blendable value on the device, written into live tensors in place.

    The live generator's blendable parameters and buffers are rebound to views of two flat buffers in
    key order (the synthesis layers, layer by layer, then the mapping network), so consecutive keys with
    the same row (a layer, or several layers at the same t) are written by a single ``matmul``: a curve
    sweep costs one call per layer, not one per tensor. Do not move the live module to another device
    afterwards (the views would be lost).

    The coefficient rows reach the device through a :class:`~engine.core.uploads.StagedUpload` (one
    non-blocking copy, no host wait, on every device). :meth:`set_channels` restricts the synthesis
    layers' blend to a fraction of their output channels (:mod:`engine.blend.channels`).
    """

    def __init__(self, state_dicts: Sequence[Mapping[str, torch.Tensor]], live: torch.nn.Module,
                 keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.num_models = len(state_dicts)
        self.live = live
        live_sd = live.state_dict(keep_vars=True)
        self.device = live_sd[self.keys[0]].device if self.keys else torch.device("cpu")
        self.shapes = [tuple(live_sd[k].shape) for k in self.keys]
        sizes = [live_sd[k].numel() for k in self.keys]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)                # [nk + 1]
        self.segment = np.array([int(k.startswith(MAPPING_PREFIX)) for k in self.keys])      # 0 synthesis, 1 mapping
        self.local = np.zeros(len(self.keys) + 1, dtype=np.int64)    # offset of each key in its segment's flat
        filled = [0, 0]
        for j, (seg, size) in enumerate(zip(self.segment.tolist(), sizes)):
            self.local[j] = filled[seg]
            filled[seg] += size
        total = int(self.offsets[-1])
        # plain int lists for the device half: a traced write reads them as constants, not as tensors
        self._offset, self._local, self._segment = (self.offsets.tolist(), self.local.tolist(),
                                                    self.segment.tolist())
        with torch.no_grad(), torch.inference_mode(False):     # normal tensors, even from a loader thread
            self.stack = torch.empty(self.num_models, total, device=self.device)              # [K, total]
            self.flats = [torch.empty(1, n, device=self.device) for n in filled]
            for j, key in enumerate(self.keys):
                a, n = int(self.offsets[j]), sizes[j]
                for m, sd in enumerate(state_dicts):
                    value = sd[key].detach().reshape(-1).to(self.device, torch.float32)
                    self.stack.select(0, m).narrow(0, a, n).copy_(value)
                view = self.live_view(j).view(self.shapes[j])
                view.copy_(live_sd[key].detach())
                _rebind(live, key, view)
        self.previous = np.full((len(self.keys), self.num_models), np.nan)    # NaN: the first write is full
        self._rows = StagedUpload((len(self.keys), self.num_models), self.device)
        self._channel_key: tuple[float, str, int] = (1.0, "most", 0)
        self._channels: ChannelSelection | None = None

    @property
    def num_bytes(self) -> int:
        """Device memory held by the stacks."""
        return self.stack.numel() * self.stack.element_size()

    def live_view(self, first: int, last: int | None = None) -> torch.Tensor:
        """The live values of keys ``first..last`` (one segment) as a ``[1, n]`` view of their flat buffer."""
        last = first if last is None else last
        n = self._offset[last + 1] - self._offset[first]
        return self.flats[self._segment[first]].narrow(1, self._local[first], n)

    def runs(self, rows: np.ndarray) -> list[tuple[int, int]]:
        """``(first, last)`` key indices of each run of consecutive changed keys sharing one row (a run
        never crosses from the synthesis layers into the mapping network)."""
        changed = np.any(rows != self.previous, axis=1)                                        # [nk]
        same = (np.all(rows[1:] == rows[:-1], axis=1) & changed[1:] & changed[:-1]
                & (self.segment[1:] == self.segment[:-1]))                                      # [nk - 1]
        starts = np.flatnonzero(changed & ~np.r_[False, same])
        ends = np.flatnonzero(changed & ~np.r_[same, False])
        return list(zip(starts.tolist(), ends.tolist()))

    def set_channels(self, fraction: float, order: str = "most", seed: int = 0) -> None:
        """Blend only ``fraction`` of each layer's output channels, picked by ``order`` (``most``
        changed by fine-tuning first, ``least`` changed first, or ``random`` with ``seed``); the other
        channels stay model A. A change takes effect at the next :meth:`write`, which then rewrites
        every synthesis key."""
        key = (min(max(float(fraction), 0.0), 1.0), str(order), int(seed))
        if key == self._channel_key:
            return
        self._channel_key = key
        if key[0] >= 1.0 and self._channels is None:
            return
        if self._channels is None:
            self._channels = ChannelSelection(self.live.layers, self.keys, self.offsets, self.local, self.shapes,
                                              self.segment, self.stack)
        self._channels.configure(*key)
        self.previous[self.segment == 0] = np.nan

    def static_runs(self) -> list[tuple[int, int]]:
        """Runs that always share a row whatever the values: consecutive keys of one layer, kind, block
        and network part. Writing all of them is a full blend write of fixed shape (what a compiled or
        graph-captured frame would replay with new rows)."""
        table: Any = self.live.layers
        attrs = [(int(self.segment[j]), table.layer_of(k), table.kind_of(k), block_resolution(table, k))
                 for j, k in enumerate(self.keys)]
        runs, first = [], 0
        for j in range(1, len(self.keys) + 1):
            if j == len(self.keys) or attrs[j] != attrs[first]:
                runs.append((first, j - 1))
                first = j
        return runs

    @torch.no_grad()
    def write(self, rows: np.ndarray) -> int:
        """Write every key whose row changed since the last call; returns how many keys were written.

        Host half: compare with the previous rows, send the rows with one non-blocking copy; device
        half: :meth:`write_runs`.
        """
        runs = self.runs(rows)
        if not runs:
            return 0
        self._rows.write(rows)                                                                 # [nk, K]
        self.write_runs(runs)
        self.previous = rows.copy()
        return sum(last - first + 1 for first, last in runs)

    @torch.no_grad()
    def write_runs(self, runs: Sequence[tuple[int, int]]) -> None:
        """Device half: each run is ``matmul(row [1, K], stack[:, a:b], out=live[:, a:b])`` with the row
        read from the device rows tensor: BLAS, ~20x faster here than ``torch.lerp``, and exact for
        one-hot rows (``1 * a + 0 * b == a``). With a channel fraction below 1 the unselected channels
        of a synthesis run are then reset to model A. No host sync; a fixed ``runs`` list traces to one
        graph whatever the row values."""
        source = self._rows.tensor                                                             # [nk, K]
        channels = self._channels if self._channels is not None and self._channels.active else None
        for first, last in runs:
            a, b = self._offset[first], self._offset[last + 1]
            out = self.live_view(first, last)                                                  # [1, b - a]
            torch.matmul(source.narrow(0, first, 1), self.stack.narrow(1, a, b - a), out=out)
            if channels is not None and self._segment[first] == 0:
                channels.restrict(out, self._local[first], self.stack.select(0, 0).narrow(0, a, b - a))
