"""Frames handed from the render thread to a sink's own delivery thread, never slowing the show.

The render loop must never wait for an output: an encoder that falls behind, an NDI sender, a slow
disk. :class:`Delivery` gives a sink a thread and a small ring of frame buffers that the sink owns
(the renderer reuses its frame buffer every frame, so nothing may keep a reference to it past
``send``). ``put`` copies the frame into a free buffer and returns at once; on a GPU the copy is an
asynchronous device-to-host copy into pinned memory, ordered on the frame's own device's stream, and
the delivery thread waits for it, so the render thread never waits for the device either.

When ``depth`` frames already wait, the oldest waiting one is replaced and counted as dropped (the
latest frame wins). ``lossless`` deliveries (offline renders) wait for room instead: there the show
runs on a fake clock and every frame must arrive.

Buffers: ``depth`` waiting + one being delivered + one being filled, allocated at the first frame
(its device decides whether they are pinned), then reused for the life of the sink.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .base import Frame

log = logging.getLogger("netblend")

JOIN_SECONDS = 30.0       # how long closing waits for the frames still waiting to be delivered


def pinned_empty(shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 host memory, page-locked where an accelerator can pin it (fast asynchronous copies)."""
    try:
        return torch.empty(shape, dtype=torch.uint8, pin_memory=True)
    except RuntimeError:          # no pinning allocator here: plain memory (copies just block)
        return torch.empty(shape, dtype=torch.uint8)


@dataclass
class _Slot:
    pixels: torch.Tensor              # uint8 [H, W, 4] on the host, owned by the delivery
    ready: Any = None                 # a CUDA event the copy into ``pixels`` records, else None
    index: int = 0
    t: float = 0.0


class Delivery:
    """One sink's delivery thread. ``deliver(frame)`` runs on that thread for each frame; when it
    raises, the delivery stops (``error`` says why) and every later ``put`` raises."""

    def __init__(self, deliver: Callable[[Frame], None], name: str, depth: int = 1, lossless: bool = False,
                 on_error: Callable[[Exception], str] | None = None):
        self.deliver = deliver
        self.name = name
        self.depth = max(1, depth)
        self.lossless = lossless
        self.on_error = on_error
        self.delivered = 0
        self.dropped = 0
        self.error: str | None = None
        self._free: list[_Slot] = []
        self._waiting: deque[_Slot] = deque()
        self._busy = False
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"netblend-{name}", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ render thread
    def put(self, frame: Frame) -> None:
        """Copy ``frame`` into a buffer of this delivery and queue it; never waits unless lossless."""
        with self._cond:
            if self.lossless:
                while len(self._waiting) >= self.depth and self.error is None:
                    self._cond.wait()
            if self.error is not None:
                raise RuntimeError(self.error)
            slot = self._free.pop() if self._free else None
        if slot is None:
            slot = self._allocate(frame)
        self._copy(frame, slot)
        with self._cond:
            if len(self._waiting) >= self.depth:
                self._free.append(self._waiting.popleft())
                self.dropped += 1
            self._waiting.append(slot)
            self._cond.notify_all()

    def _allocate(self, frame: Frame) -> _Slot:
        pixels = frame.pixels
        if pixels.device.type == "cuda":
            with torch.cuda.device(pixels.device):
                return _Slot(pinned_empty(tuple(pixels.shape)), torch.cuda.Event())
        return _Slot(torch.empty(tuple(pixels.shape), dtype=torch.uint8))

    @staticmethod
    def _copy(frame: Frame, slot: _Slot) -> None:
        pixels = frame.pixels
        slot.index, slot.t = frame.index, frame.t
        if slot.ready is not None:
            # Issued on the current stream of the frame's device, after the kernels that drew it and
            # before the next frame overwrites the renderer's buffer; the event marks its end.
            slot.pixels.copy_(pixels, non_blocking=True)
            slot.ready.record(torch.cuda.current_stream(pixels.device))
        else:
            slot.pixels.copy_(frame.host())

    def close(self) -> bool:
        """Deliver what waits, stop the thread. False when it did not finish in time."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(JOIN_SECONDS)
        return not self._thread.is_alive()

    # ------------------------------------------------------------------ delivery thread
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closing:
                    self._cond.wait()
                if not self._waiting:
                    return
                slot = self._waiting.popleft()
                self._busy = True
            if self.error is None:
                self._deliver(slot)
            with self._cond:
                self._free.append(slot)
                self._busy = False
                self._cond.notify_all()

    def _deliver(self, slot: _Slot) -> None:
        try:
            if slot.ready is not None:
                slot.ready.synchronize()
            self.deliver(Frame(slot.pixels, slot.index, slot.t, _host=slot.pixels))
            self.delivered += 1
        except Exception as e:  # reported at once, and raised at the next put (the sink is dropped)
            message = self.on_error(e) if self.on_error is not None else f"{e or type(e).__name__}"
            log.error("output %s failed: %s", self.name, message)       # at once, before the show hears of it
            with self._cond:
                self.error = message
                self._cond.notify_all()

    def idle(self) -> bool:
        """True when no frame waits and none is being delivered (tests, flush points)."""
        with self._cond:
            return not self._waiting and not self._busy

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until :meth:`idle` (offline renders and tests); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: (not self._waiting and not self._busy) or self.error is not None,
                                       timeout)
