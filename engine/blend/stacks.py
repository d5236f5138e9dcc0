"""The stacking core: K models' weights resident as ``[K, numel]`` stacks, written into live tensors.

Works on plain state dicts and a :class:`~engine.models.layers.LayerTable`, so it is testable
without a generator. Every blendable key (layer keys and mapping keys; never ``LayerTable.fixed``)
gets one coefficient row ``c [K]`` per frame, and its live tensor is ``c @ stack``. Rows always sum
to one: ``c_0 = 1 - sum(c_1..c_K-1)``, so two models are ``c = [1 - t, t]`` and N-way weights are
``base + sum_k c_k (M_k - base)``.

:class:`BlendTargets` holds what the controls asked for (per-layer rows, mapping row, resolution and
kind overrides, safety range) and turns it into per-key rows with numpy on the host (tens of
microseconds). :class:`WeightStacks` compares those rows with the previous frame's and rewrites only
the keys whose row changed with ``matmul(row, stack, out=live)`` (exact for one-hot rows, so t = 0
and t = 1 reproduce A and B bit for bit); on CUDA the rows are copied into one device tensor that is
updated in place (pinned host buffer, no allocation), so a captured CUDA graph stays valid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .masks import BLEND_KINDS, SAFETY_DEFAULT

_BLOCK = re.compile(r"^synthesis\.b(\d+)\.")
MAPPING_KIND = "mapping"


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

    def row(self, t: float) -> np.ndarray:
        """Two-model t as a K row: ``[1 - t, t, 0, ...]`` (A to B; other models at 0)."""
        r = np.zeros(self.num_models)
        r[0], r[1] = 1.0 - t, t
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


class WeightStacks:
    """``[K, numel]`` stacks per key on the device, written into live tensors in place."""

    def __init__(self, state_dicts: Sequence[Mapping[str, torch.Tensor]], live: Mapping[str, torch.Tensor],
                 keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self.num_models = len(state_dicts)
        with torch.no_grad():
            self.stacks = [torch.stack([sd[k].detach().reshape(-1).to(live[k].device, torch.float32)
                                        for sd in state_dicts]).contiguous() for k in self.keys]  # [K, numel]
        self.live = [live[k].detach().view(1, -1) for k in self.keys]                         # [1, numel]
        self.device = self.live[0].device if self.live else torch.device("cpu")
        self.cuda = self.device.type == "cuda"
        self.previous = np.full((len(self.keys), self.num_models), np.nan)    # NaN: the first write is full
        if self.cuda:
            self.host_rows = torch.empty(len(self.keys), self.num_models, pin_memory=True)    # [nk, K]
            self.device_rows = torch.zeros(len(self.keys), self.num_models, device=self.device)
            self.row_views = [self.device_rows[j:j + 1] for j in range(len(self.keys))]       # [1, K] each
            self.copied = torch.cuda.Event()

    @property
    def num_bytes(self) -> int:
        """Device memory held by the stacks."""
        return sum(s.numel() * s.element_size() for s in self.stacks)

    @torch.no_grad()
    def write(self, rows: np.ndarray) -> int:
        """Write every key whose row changed since the last call; returns how many keys were written."""
        changed = np.flatnonzero(np.any(rows != self.previous, axis=1))
        if changed.size == 0:
            return 0
        if self.cuda:
            self._write_cuda(rows, changed)
        else:
            self._write_cpu(rows, changed)
        self.previous = rows.copy()
        return int(changed.size)

    def _write_cpu(self, rows: np.ndarray, changed: np.ndarray) -> None:
        # A [1, K] x [K, numel] matmul runs as BLAS: ~20x faster here than torch.lerp or add(alpha=),
        # and still exact at one-hot rows (1 * a + 0 * b == a).
        rows32 = torch.from_numpy(rows.astype(np.float32))                                    # [nk, K]
        for j in changed:
            torch.matmul(rows32[j:j + 1], self.stacks[j], out=self.live[j])                   # [1, numel]

    def _write_cuda(self, rows: np.ndarray, changed: np.ndarray) -> None:
        self.copied.synchronize()                         # the previous upload has left the pinned buffer
        self.host_rows.copy_(torch.from_numpy(rows.astype(np.float32)))
        self.device_rows.copy_(self.host_rows, non_blocking=True)
        self.copied.record()
        for j in changed:
            torch.matmul(self.row_views[j], self.stacks[j], out=self.live[j])                 # [1, numel]
