"""A fake CUDA (or MPS) device on the CPU that logs every host sync and blocking copy, with file:line.

``FakeTensorMode`` gives tensors that say ``device='cuda:0'`` (or ``mps``) and run only shape
functions; torch's Python bindings for ``copy_`` and ``to`` need a real device guard, so they are routed
to the ATen ops directly. Every call that would make the host wait for a real device is logged from
the thread that switched counting on (a worker thread reading back legitimately is not the frame):

- reading a value: ``.item()``, ``bool()``, ``float()``, ``.tolist()``, ``.cpu()``, ``.numpy()``,
  ``torch.equal`` on a device tensor;
- a copy between host and device that blocks: ``non_blocking=False``, or (CUDA) a host side that is not
  pinned memory;
- waiting on an event, or ``torch.cuda.synchronize``.

Pinned buffers (``torch.empty(..., pin_memory=True)``) are real CPU tensors, remembered as pinned.
Events complete at once unless ``log.device_busy`` is set.
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode, unset_fake_temporarily

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@dataclass
class SyncLog:
    """What would have made the host wait, as ``(what, where)``."""

    kind: str
    events: list[tuple[str, str]] = field(default_factory=list)
    device_busy: bool = False
    _thread: int | None = None
    pinned: set[int] = field(default_factory=set)
    _keep: list[torch.Tensor] = field(default_factory=list)

    @contextlib.contextmanager
    def counting(self) -> Iterator[SyncLog]:
        """Log the waits of the calling thread inside this block."""
        self._thread = threading.get_ident()
        try:
            yield self
        finally:
            self._thread = None

    def record(self, what: str) -> None:
        if self._thread != threading.get_ident():
            return
        self.events.append((what, _where()))

    def on_device(self, t: object) -> bool:
        return isinstance(t, torch.Tensor) and t.device.type == self.kind

    def report(self) -> str:
        return "\n".join(f"{what} at {where}" for what, where in self.events) or "none"


def _where() -> str:
    """The innermost frame of netblend's own code (engine/ or stylegan_ops/)."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        path = os.path.abspath(frame.filename)
        if path.startswith(ROOT) and ("/engine/" in path or "/stylegan_ops/" in path):
            return f"{os.path.relpath(path, ROOT)}:{frame.lineno}"
    return "?"


class FakeEvent:
    """``torch.cuda.Event`` / ``torch.mps.event.Event`` stand-in: completes at once unless the log says busy."""

    log: SyncLog

    def __init__(self, *args, **kwargs) -> None:
        self.recorded = False

    def record(self, stream=None) -> None:
        self.recorded = True

    def query(self) -> bool:
        return not self.log.device_busy

    def synchronize(self) -> None:
        self.log.record("event wait")


def _target(args, kwargs, tensor: torch.Tensor) -> tuple[torch.device, torch.dtype, bool]:
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    non_blocking = kwargs.get("non_blocking", False)
    for a in args:
        if isinstance(a, torch.dtype):
            dtype = a
        elif isinstance(a, (str, torch.device)):
            device = a
        elif isinstance(a, torch.Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, bool):
            non_blocking = a
    device = tensor.device if device is None else torch.device(device)
    if device.index is None and device.type == tensor.device.type:
        device = tensor.device
    return device, dtype or tensor.dtype, non_blocking


@contextlib.contextmanager
def fake_accelerator(kind: str = "cuda") -> Iterator[SyncLog]:
    """Inside: FakeTensorMode, tensors on ``kind`` are fake, and waits are logged (see module doc)."""
    log = SyncLog(kind)
    FakeEvent.log = log
    originals = {name: getattr(torch.Tensor, name) for name in
                 ("copy_", "to", "item", "tolist", "cpu", "numpy", "__bool__", "__float__")}
    original_equal, original_empty = torch.equal, torch.empty

    def blocking_copy(dst: torch.Tensor, src: torch.Tensor, non_blocking: bool) -> None:
        if dst.device.type == src.device.type:
            return
        host = src if src.device.type == "cpu" else dst
        if not non_blocking or (kind == "cuda" and id(host) not in log.pinned):
            log.record(f"blocking copy {src.device.type} -> {dst.device.type}")

    def copy_(self, src, non_blocking=False):
        if isinstance(src, torch.Tensor):
            blocking_copy(self, src, non_blocking)
        if isinstance(self, FakeTensor) and isinstance(src, torch.Tensor) and not isinstance(src, FakeTensor):
            with unset_fake_temporarily():
                src = src.detach().clone()    # a real host buffer shared with numpy cannot be faked in place
        if isinstance(self, FakeTensor) or isinstance(src, FakeTensor):
            return torch.ops.aten.copy_.default(self, src, non_blocking)
        return originals["copy_"](self, src, non_blocking)

    def to(self, *args, **kwargs):
        device, dtype, non_blocking = _target(args, kwargs, self)
        if device == self.device and dtype == self.dtype and not kwargs.get("copy", False):
            return self
        if device.type != self.device.type:
            host_side = self if self.device.type == "cpu" else None
            if not non_blocking or (kind == "cuda" and (host_side is None or id(host_side) not in log.pinned)):
                log.record(f"blocking copy {self.device.type} -> {device.type}")
        return torch.ops.aten._to_copy.default(self, dtype=dtype, device=device, non_blocking=non_blocking)

    def reading(name: str):
        def read(self, *args, **kwargs):
            if log.on_device(self):
                log.record(f"{name.strip('_')}()")
            return originals[name](self, *args, **kwargs)
        return read

    def equal(a, b):
        if log.on_device(a) or log.on_device(b):
            log.record("torch.equal")
            return True                       # only construction-time checks reach here (not counted)
        return original_equal(a, b)

    def empty(*args, pin_memory=False, **kwargs):
        if not pin_memory:
            return original_empty(*args, **kwargs)
        with unset_fake_temporarily():
            t = original_empty(*args, **kwargs)
        log.pinned.add(id(t))
        log._keep.append(t)
        return t

    patches = [mock.patch.object(torch.Tensor, "copy_", copy_), mock.patch.object(torch.Tensor, "to", to),
               mock.patch("torch.equal", equal), mock.patch("torch.empty", empty),
               mock.patch("torch.cuda.Event", FakeEvent), mock.patch("torch.cuda.current_stream", lambda d=None: None),
               mock.patch("torch.cuda.synchronize", lambda d=None: log.record("torch.cuda.synchronize")),
               mock.patch("torch.mps.event.Event", FakeEvent, create=True)]
    patches += [mock.patch.object(torch.Tensor, name, reading(name))
                for name in ("item", "tolist", "cpu", "numpy", "__bool__", "__float__")]
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        stack.enter_context(FakeTensorMode(allow_non_fake_inputs=True))
        yield log
