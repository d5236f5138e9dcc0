"""Seeds -> z -> w, exactly as the official StyleGAN tools do it.

A seed number means the same image in netblend as in every other StyleGAN tool:
``z = np.random.RandomState(seed).randn(1, z_dim)`` (float64, cast to float32 by the mapping).
The :class:`SeedBank` maps each (seed, psi, cutoff, class) once and keeps the result, for offline
tools and tests; the live engine keeps its seeds in a device table (:mod:`engine.latents.table`) and
applies truncation itself every frame, so moving the psi fader never re-runs the mapping.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Sequence

import numpy as np
import torch


def seed_to_z(seed: int, z_dim: int) -> np.ndarray:
    """The official z of ``seed``: float64 ``[1, z_dim]`` == ``RandomState(seed).randn(1, z_dim)``."""
    return np.random.RandomState(int(seed) % (2 ** 32)).randn(1, z_dim)


def class_label(G, class_index: int, device: torch.device | str) -> torch.Tensor | None:
    """One-hot label ``[1, c_dim]`` for conditional models, ``None`` for unconditional ones."""
    if G.c_dim == 0:
        return None
    c = torch.zeros(1, G.c_dim, device=device)                     # [1, c_dim]
    c[0, int(class_index) % G.c_dim] = 1.0
    return c


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int | None) -> torch.Tensor:
    """``w_avg.lerp(ws, psi)`` on the first ``cutoff`` rows (all rows when ``cutoff`` is None/0).

    ``ws``: ``[N, num_ws, w_dim]``; ``w_avg``: ``[w_dim]``. The live engine truncates on the device
    with ``psi`` and ``cutoff`` as tensors instead (:class:`~engine.latents.live.LatentEngine`).
    """
    if psi == 1.0:
        return ws
    num_ws = ws.shape[1]
    rows = num_ws if not cutoff else min(int(cutoff), num_ws)
    if rows == num_ws:
        return w_avg.lerp(ws, psi)                                  # [N, num_ws, w_dim]
    head = w_avg.lerp(ws[:, :rows], psi)                            # [N, rows, w_dim]
    return torch.cat([head, ws[:, rows:]], dim=1)                   # [N, num_ws, w_dim]


def weights_version(tensors: Sequence[torch.Tensor]) -> int:
    """A number that changes whenever one of ``tensors`` is written in place, read on the host without
    touching the device: the sum of their version counters. A blended generator's live tensors are
    views of one flat buffer per network part (:mod:`engine.blend.stacks`), so a blend write of the
    mapping bumps every mapping tensor and a write of the synthesis layers none of them. Tensors made
    under ``inference_mode`` keep no counter and count 0."""
    total = 0
    for tensor in tensors:
        try:
            total += tensor._version
        except RuntimeError:
            pass
    return total


def model_key(G) -> Hashable:
    """Identity of a model's mapping for caching: the model's ``id`` and :func:`weights_version` of its
    mapping tensors, so a rewritten mapping never serves a stale w."""
    return id(G), weights_version(list(G.mapping.parameters()) + list(G.mapping.buffers()))


class SeedBank:
    """Caches seed -> z and seed -> w on the device, per (model and mapping state, seed, psi, cutoff, class).

    ``z(seed)`` is the float32 device copy of :func:`seed_to_z`; ``ws(seed, psi, cutoff, cls)`` runs
    the model's own mapping (with its truncation) once per key. At most ``capacity`` entries of each
    kind are kept (least recently used first out), so a long seed walk never grows without bound.
    """

    def __init__(self, G, device: torch.device | str | None = None, capacity: int = 512):
        self.G = G
        self.device = torch.device(device) if device is not None else _module_device(G)
        self.capacity = capacity
        self._z: OrderedDict[Hashable, torch.Tensor] = OrderedDict()
        self._ws: OrderedDict[Hashable, torch.Tensor] = OrderedDict()

    def _remember(self, cache: OrderedDict, key: Hashable, value: torch.Tensor) -> torch.Tensor:
        cache[key] = value
        if len(cache) > self.capacity:
            cache.popitem(last=False)
        return value

    def z(self, seed: int) -> torch.Tensor:
        """float32 ``[1, z_dim]`` on the device."""
        key = (self.G.z_dim, int(seed))
        hit = self._z.get(key)
        if hit is not None:
            self._z.move_to_end(key)
            return hit
        z = torch.from_numpy(seed_to_z(seed, self.G.z_dim)).to(self.device, torch.float32)
        return self._remember(self._z, key, z)

    def ws(self, seed: int, psi: float = 1.0, cutoff: int | None = None, cls: int = 0) -> torch.Tensor:
        """``[1, num_ws, w_dim]`` on the device: the mapping of ``seed``, truncated by ``psi``/``cutoff``."""
        cutoff = int(cutoff) if cutoff else None
        cls = int(cls) if self.G.c_dim else 0
        key = (model_key(self.G), int(seed), float(psi), cutoff, cls)
        hit = self._ws.get(key)
        if hit is not None:
            self._ws.move_to_end(key)
            return hit
        with torch.no_grad():
            ws = self.G.mapping(self.z(seed), class_label(self.G, cls, self.device),
                                truncation_psi=psi, truncation_cutoff=cutoff)   # [1, num_ws, w_dim]
        return self._remember(self._ws, key, ws.detach())

    def clear(self) -> None:
        self._z.clear()
        self._ws.clear()


def _module_device(G) -> torch.device:
    if getattr(G, "device", None) is not None:
        return torch.device(G.device)
    for tensor in list(G.parameters()) + list(G.buffers()):
        return tensor.device
    return torch.device("cpu")


def w_avg_of(G) -> torch.Tensor:
    """The truncation centre ``[w_dim]`` of a generator (``mapping.w_avg``)."""
    return G.mapping.w_avg
