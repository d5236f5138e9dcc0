"""A whole renderer frame on a fake accelerator (CUDA or MPS) on the CPU, every host wait logged.

:func:`fake_frame_device` is ``tests/latents/fake_device.fake_accelerator`` plus the indexing a frame's
ops use (basic indices as in ``tests/ops/host_sync``, and the integer-tensor gathers of
``grid_sample``'s decomposition), which a CPU build of PyTorch refuses on a tensor that says
``device='cuda:0'``; ``torch.cuda.device(...)`` (the readback's device guard) is a no-op there.
:func:`fake_renderer` builds a show's renderer there (blend, latents with
directions, network bending) from real models whose directions were computed on the CPU first.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from unittest import mock

import torch
from torch._subclasses.fake_tensor import is_fake, unset_fake_temporarily

from tests.latents.fake_device import SyncLog, fake_accelerator
from tests.ops.host_sync import _basic_index


def _fake_getitem(original):
    def getitem(self, index):
        if not is_fake(self):
            return original(self, index)
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, torch.Tensor) for i in parts):
            return torch.ops.aten.index.Tensor(self, [i if isinstance(i, torch.Tensor) else None for i in parts])
        return _basic_index(self, index)
    return getitem


def _fake_setitem(original):
    def setitem(self, index, value):
        if not is_fake(self):
            return original(self, index, value)
        torch.ops.aten.copy_.default(_basic_index(self, index), value)
    return setitem


def _fake_contiguous(original):
    def contiguous(self, memory_format=torch.contiguous_format):
        if not is_fake(self) or self.is_contiguous(memory_format=memory_format):
            return original(self, memory_format=memory_format)
        return torch.ops.aten.clone.default(self, memory_format=memory_format)
    return contiguous


@contextlib.contextmanager
def fake_frame_device(kind: str = "cuda") -> Iterator[SyncLog]:
    """Inside: tensors on ``kind`` are fake, a frame's indexing works on them, waits are logged."""
    saved = {name: getattr(torch.Tensor, name) for name in ("__getitem__", "__setitem__", "contiguous")}
    torch.Tensor.__getitem__ = _fake_getitem(saved["__getitem__"])  # type: ignore[method-assign]
    torch.Tensor.__setitem__ = _fake_setitem(saved["__setitem__"])  # type: ignore[method-assign]
    torch.Tensor.contiguous = _fake_contiguous(saved["contiguous"])  # type: ignore[method-assign]
    try:
        with fake_accelerator(kind) as log, mock.patch("torch.cuda.device", lambda device: contextlib.nullcontext()):
            yield log
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)


def fake_renderer(models, kind: str, directions, impl: str = "fast", **renderer_kwargs):
    """A renderer like ``build_renderer``'s over copies of ``models`` moved to the fake ``kind`` device
    (call inside :func:`fake_frame_device`); ``directions`` are ready sets ``{"a": ..., "b": ...}``."""
    from engine.blend.generator import BlendedGenerator
    from engine.latents.live import LatentEngine
    from engine.models.bending import NetworkBender
    from engine.show.render import Renderer

    with unset_fake_temporarily():                 # real copies: the fixtures stay on the CPU
        copies = [copy.deepcopy(G) for G in models]
    blended = BlendedGenerator([G.to(kind) for G in copies])
    blended.impl = impl
    device = torch.device(kind)
    return Renderer(blended, LatentEngine(blended, device, directions=directions), bender=NetworkBender(blended),
                    **renderer_kwargs)
