"""Channel-wise blending: inside each layer, only a fraction of the output channels follow the blend.

``blend.channel.fraction`` = 1 is the plain layer blend; 0 is model A. In between, each layer blends
``round(fraction * n)`` of its ``n`` channels (the layer's value, composed as usual) and keeps the others
at model A. Which channels come first is ``blend.channel.order``:

- ``most``: most changed by fine-tuning first, by ``||B_c - A_c||`` (model B against model A);
- ``least``: least changed first;
- ``random``: a random order drawn from ``blend.channel.seed`` (the same channels on every machine).

Channels are the first dimension of a layer's tensors. Tensors of one layer that share a role and a
channel count share one ranking (the distance of channel ``c`` sums over them): a convolution's weight
``[out, in, k, k]`` and its bias ``[out]`` move together, the style affine ``[in, w_dim]`` (weight and
bias) is ranked over its own rows, and so are ToRGB and the constant input. A scalar or a noise image
is one unit: it follows the blend once ``fraction >= 0.5``. The mapping network is never restricted.

Per frame the restriction is one ``torch.where`` per written run of the synthesis layers into the live
weights (in place, no allocation); the per-element mask is rebuilt only when fraction, order or seed
change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.uploads import StagedUpload
from .masks import CHANNEL_ORDERS as ORDERS

ROLES = {"conv": "out", "bias": "out"}          # kinds whose first dimension is the layer's output channels
SINGLE_UNIT_KINDS = ("noise", "stat")


@dataclass(frozen=True)
class ChannelGroup:
    """Keys of one layer that share one channel ranking."""

    layer: int
    role: str
    units: int                                   # channels (1 for a single-unit group)
    first_unit: int                              # offset of its ranks in the concatenated rank vector
    keys: tuple[int, ...]                        # indices into the stacks' key list


def channel_groups(table, keys: Sequence[str], shapes: Sequence[tuple[int, ...]],
                   segment: np.ndarray) -> list[ChannelGroup]:
    """Group the synthesis keys by (layer, role, channel count), in key order."""
    found: dict[tuple[int, str, int], list[int]] = {}
    for j, key in enumerate(keys):
        if segment[j] != 0:
            continue
        kind = table.kind_of(key)
        shape = shapes[j]
        layer = table.layer_of(key)
        layer = -1 if layer is None else int(layer)
        if kind in SINGLE_UNIT_KINDS or len(shape) == 0 or shape[0] == 1:
            found.setdefault((layer, f"{key}", 1), []).append(j)
        else:
            found.setdefault((layer, ROLES.get(kind, kind), int(shape[0])), []).append(j)
    groups, first = [], 0
    for (layer, role, units), members in found.items():
        groups.append(ChannelGroup(layer, role, units, first, tuple(members)))
        first += units
    return groups


def selected_count(fraction: float, units: int) -> int:
    """How many of ``units`` channels follow the blend at ``fraction`` (rounded half up)."""
    return min(units, max(0, int(np.floor(fraction * units + 0.5))))


def random_ranks(groups: Sequence[ChannelGroup], seed: int) -> np.ndarray:
    """Rank of every unit under the ``random`` order: a permutation per group from ``seed``."""
    ranks = np.zeros(sum(g.units for g in groups), dtype=np.int64)
    for g in groups:
        rng = np.random.default_rng([int(seed) & 0x7FFFFFFF, g.layer + 1, g.units, g.first_unit])
        ranks[g.first_unit:g.first_unit + g.units] = rng.permutation(g.units)
    return ranks


class ChannelSelection:
    """The per-element mask of which live synthesis values follow the blend (the rest are model A)."""

    def __init__(self, table, keys: Sequence[str], offsets: np.ndarray, local: np.ndarray,
                 shapes: Sequence[tuple[int, ...]], segment: np.ndarray, stack: torch.Tensor) -> None:
        self.offsets, self.local, self.shapes = offsets, local, list(shapes)
        self.stack = stack
        self.device = stack.device
        self.groups = channel_groups(table, keys, shapes, segment)
        self.units = sum(g.units for g in self.groups)
        self.fraction = 1.0
        synthesis = int(sum(int(offsets[j + 1] - offsets[j]) for j in range(len(keys)) if segment[j] == 0))
        with torch.no_grad(), torch.inference_mode(False):
            self.mask = torch.ones(synthesis, dtype=torch.bool, device=self.device)            # [n_synthesis]
        self._thresholds = StagedUpload((self.units,), self.device, dtype=torch.int64)
        self._ranks: dict[tuple[str, int], torch.Tensor] = {}

    @property
    def active(self) -> bool:
        """True when some channels are held at model A."""
        return self.fraction < 1.0

    def distances(self) -> torch.Tensor:
        """``||B_c - A_c||`` of every unit ``[units]`` on the device (joint over a group's keys)."""
        dist = torch.zeros(self.units, device=self.device)
        if self.stack.shape[0] < 2:
            return dist
        for g in self.groups:
            for j in g.keys:
                a, n = int(self.offsets[j]), int(self.offsets[j + 1] - self.offsets[j])
                delta = self.stack.select(0, 1).narrow(0, a, n) - self.stack.select(0, 0).narrow(0, a, n)
                dist.narrow(0, g.first_unit, g.units).add_(delta.view(g.units, -1).square().sum(dim=1))
        return dist.sqrt()

    def ranks(self, order: str, seed: int) -> torch.Tensor:
        """Rank of every unit within its group under ``order`` (0 = blended first), on the device."""
        key = (order, int(seed) if order == "random" else 0)
        cached = self._ranks.get(key)
        if cached is not None:
            return cached
        if order == "random":
            upload = StagedUpload((self.units,), self.device, dtype=torch.int64)
            ranks = upload.write(random_ranks(self.groups, seed))
            self._ranks = {k: v for k, v in self._ranks.items() if k[0] != "random"}   # keep one seed
        else:
            dist = self.distances() if "distances" not in self._ranks else self._ranks["distances", 0]
            self._ranks["distances", 0] = dist
            ranks = torch.empty(self.units, dtype=torch.int64, device=self.device)
            for g in self.groups:
                d = dist.narrow(0, g.first_unit, g.units)
                order_g = torch.argsort(-d if order == "most" else d, stable=True)
                ranks.narrow(0, g.first_unit, g.units).scatter_(
                    0, order_g, torch.arange(g.units, device=self.device))
        self._ranks[key] = ranks
        return ranks

    @torch.no_grad()
    def configure(self, fraction: float, order: str, seed: int) -> None:
        """Rebuild the mask for ``fraction`` of each group's units in ``order`` (raises on a bad order)."""
        if order not in ORDERS:
            raise ValueError(f"channel order {order!r} is not one of {', '.join(ORDERS)}")
        self.fraction = fraction
        if fraction >= 1.0:
            return
        thresholds = np.zeros(self.units, dtype=np.int64)
        for g in self.groups:
            thresholds[g.first_unit:g.first_unit + g.units] = selected_count(fraction, g.units)
        selected = self.ranks(order, seed) < self._thresholds.write(thresholds)            # [units]
        for g in self.groups:
            unit = selected.narrow(0, g.first_unit, g.units).unsqueeze(1)                   # [units, 1]
            for j in g.keys:
                n = int(self.offsets[j + 1] - self.offsets[j])
                span = self.mask.narrow(0, int(self.local[j]), n).view(g.units, -1)
                span.copy_(unit.expand_as(span))

    def restrict(self, out: torch.Tensor, first: int, base: torch.Tensor) -> None:
        """Reset the unselected values of ``out`` (``[1, n]``, starting at synthesis offset ``first``)
        to ``base`` (model A's values), in place."""
        keep = self.mask.narrow(0, first, out.shape[1]).unsqueeze(0)                          # [1, n]
        torch.where(keep, out, base.unsqueeze(0), out=out)
