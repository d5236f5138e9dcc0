"""Seeing host syncs without a GPU: every call that makes the host wait for a device, recorded with
the file:line that made it, and fake CUDA tensors (FakeTensorMode) to run the ops on with no GPU.

A CPU build of PyTorch refuses Python indexing, ``contiguous`` and ``copy_`` of a tensor on a CUDA device (their
C++ code opens a device guard), so while the fake device is in use these are routed, for fake tensors
only, through the aten ops they dispatch to (``slice``, ``unsqueeze``, ``select``, ``clone``, ``copy_``).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, is_fake, unset_fake_temporarily

# Methods that read device values on the host (each a sync on a GPU), and data-dependent shapes.
SYNC_METHODS = ("item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__",
                "nonzero", "unique")
SYNC_FUNCTIONS = ("equal", "allclose", "is_nonzero", "nonzero", "unique", "masked_select")


def _caller() -> str:
    """The innermost file:line outside torch and this harness."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/torch/" not in frame.filename and not frame.filename.endswith("host_sync.py"):
            return f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
    return "?"


def _device_of(arg) -> torch.device | None:
    if isinstance(arg, torch.Tensor):
        return arg.device
    if isinstance(arg, (str, torch.device)):
        return torch.device(arg)
    return None


@contextlib.contextmanager
def count_host_syncs() -> Iterator[list[str]]:
    """Record ``"what at file:line"`` for every host sync or host<->device copy made inside."""
    records: list[str] = []
    saved: list[tuple[object, str, object]] = []

    def wrap(owner, name):
        original = getattr(owner, name)

        def recorded(*args, **kwargs):
            records.append(f"{name} at {_caller()}")
            return original(*args, **kwargs)

        saved.append((owner, name, original))
        setattr(owner, name, recorded)

    original_to = torch.Tensor.to

    def to(self, *args, **kwargs):
        target = _device_of(kwargs.get("device", args[0] if args else None))
        if target is not None and (target.type == "cpu") != (self.device.type == "cpu"):
            records.append(f"to({target}) at {_caller()}")
        return original_to(self, *args, **kwargs)

    for name in SYNC_METHODS:
        wrap(torch.Tensor, name)
    for name in SYNC_FUNCTIONS:
        wrap(torch, name)
    torch.Tensor.to = to  # type: ignore[method-assign]
    try:
        yield records
    finally:
        torch.Tensor.to = original_to  # type: ignore[method-assign]
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def _basic_index(t: torch.Tensor, index) -> torch.Tensor:
    """``t[index]`` for None / int / slice / Ellipsis indices, through aten view ops."""
    index = index if isinstance(index, tuple) else (index,)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    out, dim = t, 0
    for i in index:
        if i is Ellipsis:
            dim += t.ndim - used
        elif i is None:
            out, dim = out.unsqueeze(dim), dim + 1
        elif isinstance(i, slice):
            out = torch.ops.aten.slice.Tensor(out, dim, i.start, i.stop, i.step or 1)
            dim += 1
        elif isinstance(i, int):
            out = out.select(dim, i)
        else:
            raise TypeError(f"fake CUDA indexing supports None, int, slice and ..., not {type(i).__name__}")
    return out


@contextlib.contextmanager
def fake_cuda() -> Iterator[FakeTensorMode]:
    """A FakeTensorMode in which ``cuda_like(mode, tensor)`` makes fake tensors on ``cuda:0``."""
    mode = FakeTensorMode()
    getitem, setitem, contiguous = torch.Tensor.__getitem__, torch.Tensor.__setitem__, torch.Tensor.contiguous
    copy_ = torch.Tensor.copy_

    def fake_getitem(self, index):
        return _basic_index(self, index) if is_fake(self) else getitem(self, index)

    def fake_setitem(self, index, value):
        if not is_fake(self):
            return setitem(self, index, value)
        torch.ops.aten.copy_.default(_basic_index(self, index), value)

    def fake_copy_(self, src, non_blocking=False):
        if not is_fake(self):
            return copy_(self, src, non_blocking)
        return torch.ops.aten.copy_.default(self, src, non_blocking)

    def fake_contiguous(self, memory_format=torch.contiguous_format):
        if not is_fake(self) or self.is_contiguous(memory_format=memory_format):
            return contiguous(self, memory_format=memory_format)
        return torch.ops.aten.clone.default(self, memory_format=memory_format)

    torch.Tensor.__getitem__ = fake_getitem  # type: ignore[method-assign]
    torch.Tensor.__setitem__ = fake_setitem  # type: ignore[method-assign]
    torch.Tensor.contiguous = fake_contiguous  # type: ignore[method-assign]
    torch.Tensor.copy_ = fake_copy_  # type: ignore[method-assign]
    try:
        with mode:
            yield mode
    finally:
        torch.Tensor.__getitem__ = getitem  # type: ignore[method-assign]
        torch.Tensor.__setitem__ = setitem  # type: ignore[method-assign]
        torch.Tensor.contiguous = contiguous  # type: ignore[method-assign]
        torch.Tensor.copy_ = copy_  # type: ignore[method-assign]


def cuda_like(mode: FakeTensorMode, t: torch.Tensor) -> torch.Tensor:
    """A fake tensor on ``cuda:0`` with ``t``'s shape, strides and dtype (values unknown)."""
    with unset_fake_temporarily():
        meta = torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device="meta")
    return FakeTensor(mode, meta, torch.device("cuda", 0))
