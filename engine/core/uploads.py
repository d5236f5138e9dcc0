"""Host values into a device tensor without waiting for the device: :class:`StagedUpload`.

Per-frame values (walk coefficients, psi, blend rows, ...) are computed on the host, where the snapshot
and the clock live, and read on the device by kernels already queued. Copying them with a plain
``tensor.to(device)`` blocks the host until the copy is done (a pageable source), and writing into one
pinned buffer that an earlier asynchronous copy may still be reading corrupts that copy.

A :class:`StagedUpload` owns one device tensor (fixed address, so a captured CUDA graph that reads it
stays valid) and a ring of ``depth`` host staging buffers (pinned on CUDA). ``write`` fills the next
staging buffer and enqueues one non-blocking copy into the device tensor on the current stream, then
records an event for that buffer. A buffer is refilled only once its event has completed; the host
waits only when the device is ``depth`` uploads behind, which the frame's own read-back never lets
happen. On the CPU the device tensor is written directly. Devices without an event API fall back to a
blocking copy (correct, just slower).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

_NUMPY_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.int64: np.int64,
                 torch.int32: np.int32, torch.bool: np.bool_}


def device_event(device: torch.device) -> Any | None:
    """A reusable event for ``device`` (CUDA or MPS), or None where torch offers none."""
    if device.type == "cuda":
        return torch.cuda.Event()
    if device.type == "mps":
        event_module = getattr(torch.mps, "event", None)
        return None if event_module is None else event_module.Event()
    return None


def record_event(event: Any, device: torch.device) -> None:
    """Record ``event`` on the current stream of ``device`` (the stream the copies were queued on)."""
    if device.type == "cuda":
        event.record(torch.cuda.current_stream(device))
    else:
        event.record()


class StagedUpload:
    """A device tensor of fixed ``shape`` refreshed from host values with non-blocking copies."""

    def __init__(self, shape: Sequence[int], device: torch.device | str, dtype: torch.dtype = torch.float32,
                 depth: int = 3) -> None:
        self.device = torch.device(device)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype
        self.waits = 0                        # writes that had to wait for the device (backpressure)
        with torch.no_grad(), torch.inference_mode(False):    # a normal tensor, even from a loader thread
            self.tensor = torch.zeros(self.shape, dtype=dtype, device=self.device)
        self._staging: list[torch.Tensor] = []
        self._views: list[np.ndarray] = []
        self._events: list[Any] = []
        self._slot = 0
        if self.device.type == "cpu":
            self._views.append(self.tensor.numpy())
            return
        events = [device_event(self.device) for _ in range(depth)]
        if any(e is None for e in events):
            return                            # no event API: write() copies blocking
        self._events = events
        np_dtype = _NUMPY_DTYPES[dtype]
        for _ in range(depth):
            if self.device.type == "cuda":
                host = torch.empty(self.shape, dtype=dtype, pin_memory=True)
                view = host.numpy()
            else:                             # MPS copies from pageable memory asynchronously
                view = np.zeros(self.shape, dtype=np_dtype)
                host = torch.from_numpy(view)
            self._staging.append(host)
            self._views.append(view)
        self._recorded = [False] * depth

    def write(self, values: Any) -> torch.Tensor:
        """Enqueue a copy of ``values`` (array-like, broadcastable to ``shape``) into :attr:`tensor`."""
        if self.device.type == "cpu":
            self._views[0][...] = values      # the device tensor is host memory: write it in place
            return self.tensor
        if not self._staging:
            array = np.broadcast_to(np.asarray(values, dtype=_NUMPY_DTYPES[self.dtype]), self.shape).copy()
            self.tensor.copy_(torch.from_numpy(array))
            return self.tensor
        i = self._slot
        self._slot = (i + 1) % len(self._staging)
        event = self._events[i]
        if self._recorded[i] and not event.query():
            self.waits += 1
            event.synchronize()               # the device is a whole ring behind: wait for this buffer
        self._views[i][...] = values
        self.tensor.copy_(self._staging[i], non_blocking=True)
        record_event(event, self.device)
        self._recorded[i] = True
        return self.tensor
