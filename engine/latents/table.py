"""The device table of W+ latents a frame reads by index: seeds (mapped on the device) and files.

Rows ``[0, slots)`` hold seeds: the host assigns each seed a slot (least recently used first out),
writes its official z (:func:`~engine.latents.seeds.seed_to_z`) into a host mirror and sends the whole
z table with one non-blocking copy (:class:`~engine.core.uploads.StagedUpload`); the mapping then runs on
the device for that slot only, writing its untruncated W+ into the table in place. Rows from
``slots`` on hold W/W+ files (walk keyframes, the style-mixing source), set at configuration; the
table keeps :data:`FILE_ROWS` rows for them, so its address and shape stay put.

A slot is mapped again only when the mapping network itself changed (``blend.mapping`` rewrites it in
place; :func:`~engine.latents.seeds.weights_version` notices without touching the device) or the class
label changed. Each slot is mapped alone (batch 1), so a row is bit for bit what
``G.mapping(seed_to_z(seed))`` gives.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch

from ..core.uploads import StagedUpload
from .seeds import seed_to_z, weights_version

SEED_SLOTS = 8
FILE_ROWS = 8                   # rows kept for W/W+ files, so new keyframe files rarely move the table


class LatentTable:
    """Seeds and files as rows of one device tensor ``w [slots + files, num_ws, w_dim]``."""

    def __init__(self, G, device: torch.device, slots: int = SEED_SLOTS) -> None:
        self.G = G
        self.device = device
        self.slots = slots
        self.z = StagedUpload((slots, G.z_dim), device)                        # [slots, z_dim]
        self._z_host = np.zeros((slots, G.z_dim), dtype=np.float32)
        self._label = StagedUpload((1, G.c_dim), device) if G.c_dim else None  # one-hot class [1, c_dim]
        self._class: int | None = None
        self._seeds: OrderedDict[int, int] = OrderedDict()                     # seed -> slot, LRU order
        self._stale: set[int] = set()                                          # slots to map
        self._mapping_tensors = list(G.mapping.parameters()) + list(G.mapping.buffers())
        self._version = weights_version(self._mapping_tensors)
        self.mapping_calls = 0                                                 # for tests and stats
        self.layout = 0                                                        # bumped when ``w`` moves
        with torch.no_grad(), torch.inference_mode(False):    # normal tensors, even from a loader thread
            self.w = torch.zeros(slots + FILE_ROWS, G.num_ws, G.w_dim, device=device)  # [rows, num_ws, w_dim]

    # ------------------------------------------------------------------ configuration (not per frame)
    def set_files(self, latents: Sequence[torch.Tensor]) -> None:
        """W+ rows ``[1, num_ws, w_dim]`` (keyframes, mixing source) at rows ``slots, slots + 1, ...``.

        Written in place while they fit the rows kept for files (the table keeps its address and shape,
        so a compiled or captured frame stays valid); more files make a larger table (``layout`` + 1)."""
        G = self.G
        rows = self.slots + max(FILE_ROWS, len(latents))
        with torch.no_grad(), torch.inference_mode(False):
            if rows != self.w.shape[0]:
                table = torch.zeros(rows, G.num_ws, G.w_dim, device=self.device)
                table.narrow(0, 0, self.slots).copy_(self.w.narrow(0, 0, self.slots))
                self.w = table
                self.layout += 1
            for i, ws in enumerate(latents):
                self.w.narrow(0, self.slots + i, 1).copy_(ws)

    def file_row(self, i: int) -> int:
        """The table row of file latent ``i`` (in the order given to :meth:`set_files`)."""
        return self.slots + i

    def label(self) -> torch.Tensor | None:
        """The one-hot class label ``[1, c_dim]`` on the device (None for unconditional models)."""
        return None if self._label is None else self._label.tensor

    # ------------------------------------------------------------------ per frame (host side)
    def rows(self, seeds: Sequence[int], cls: int) -> list[int]:
        """Table rows of ``seeds`` for this frame: new seeds take slots (their z sent with one
        non-blocking copy), then every stale slot is mapped on the device. No host wait."""
        wanted = [int(s) for s in seeds]
        if len(set(wanted)) > self.slots:
            raise ValueError(f"a frame needs at most {self.slots} distinct seeds")
        self._check_class(cls)
        self._check_mapping()
        fresh = False
        for seed in wanted:
            if seed in self._seeds:
                self._seeds.move_to_end(seed)
                continue
            slot = self._free_slot(wanted)
            self._seeds[seed] = slot
            self._z_host[slot] = seed_to_z(seed, self.G.z_dim)[0]
            self._stale.add(slot)
            fresh = True
        if fresh:
            self.z.write(self._z_host)
        if self._stale:
            self._map(sorted(self._stale))
            self._stale.clear()
        return [self._seeds[s] for s in wanted]

    def _free_slot(self, keep: Sequence[int]) -> int:
        if len(self._seeds) < self.slots:
            used = set(self._seeds.values())
            return next(i for i in range(self.slots) if i not in used)
        for seed in self._seeds:                       # least recently used first
            if seed not in keep:
                return self._seeds.pop(seed)
        raise ValueError("no free seed slot")          # unreachable: rows() bounds the distinct seeds

    def _check_class(self, cls: int) -> None:
        if self._label is None or cls == self._class:
            return
        one_hot = np.zeros((1, self.G.c_dim), dtype=np.float32)
        one_hot[0, cls % self.G.c_dim] = 1.0
        self._label.write(one_hot)
        self._class = cls
        self._stale.update(self._seeds.values())

    def _check_mapping(self) -> None:
        version = weights_version(self._mapping_tensors)
        if version != self._version:
            self._version = version
            self._stale.update(self._seeds.values())

    @torch.no_grad()
    def _map(self, slots: Sequence[int]) -> None:
        label = self.label()
        for slot in slots:
            ws = self.G.mapping(self.z.tensor.narrow(0, slot, 1), label, truncation_psi=1.0)   # [1, num_ws, w_dim]
            self.w.narrow(0, slot, 1).copy_(ws)
            self.mapping_calls += 1
