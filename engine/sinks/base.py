"""The sink protocol: where frames go. ``open(width, height)``, ``send(frame)``, ``close()``.

A frame is a :class:`Frame`: uint8 RGBA pixels, ``[H, W, 4]``, row 0 at the top. ``frame.pixels`` is
a torch tensor that may live on the GPU; ``frame.host()`` gives a contiguous CPU tensor (the readback is
done once per frame and shared by every sink that needs host memory). Sinks that can take GPU memory
directly (CUDA-GL interop, a future Spout/NDI GPU path) read ``frame.pixels``.

Subclasses implement ``_open``, ``_send`` and ``_close`` (template methods, like mido's ``BasePort``);
this base makes ``close`` idempotent, makes every sink a context manager and refuses ``send`` on a
sink that is not open. An optional backend declares ``available()``/``why_not()`` so ``netblend sinks``
can say why it is missing instead of crashing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import NetblendError


class SinkError(NetblendError, RuntimeError):
    """A sink that cannot open or send. The message names the sink and the fix."""


@dataclass
class Frame:
    pixels: Any                          # torch.uint8 [H, W, 4], RGBA, any device
    index: int = 0                       # frame number
    t: float = 0.0                       # clock time in seconds
    _host: Any = field(default=None, repr=False)
    _readback: Callable[[], Any] | None = field(default=None, repr=False)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    def host(self):
        """The pixels as a contiguous CPU uint8 tensor ``[H, W, 4]`` (computed once per frame)."""
        if self._host is None:
            if self._readback is not None:
                self._host = self._readback()
            else:
                on_cpu = self.pixels.device.type == "cpu"
                self._host = self.pixels.contiguous() if on_cpu else self.pixels.cpu()
        return self._host

    def numpy(self):
        """The pixels as a numpy array ``[H, W, 4]`` (a view of :meth:`host`)."""
        return self.host().numpy()


class Sink(ABC):
    """Base class of every output. Subclasses override ``_open``, ``_send``, ``_close``."""

    name = "sink"          # the spec word: null, window, record, ...
    needs_host = True      # False where a sink can consume GPU memory itself

    def __init__(self) -> None:
        self.is_open = False
        self.size: tuple[int, int] | None = None

    # -- availability (optional backends override) --------------------------------------------
    @classmethod
    def why_not(cls) -> str | None:
        """None when this sink can run here, else a one-line reason with the fix."""
        return None

    @classmethod
    def available(cls) -> bool:
        return cls.why_not() is None

    def _unavailable(self) -> str | None:
        """Why this instance cannot open (default: the class's ``why_not``)."""
        return self.why_not()

    # -- protocol -------------------------------------------------------------------------------
    def open(self, width: int, height: int) -> Sink:
        if self.is_open:
            return self
        reason = self._unavailable()
        if reason is not None:
            raise SinkError(f"{self.name}: {reason}")
        self._open(width, height)
        self.size = (width, height)
        self.is_open = True
        return self

    def send(self, frame: Frame) -> None:
        if not self.is_open:
            raise SinkError(f"{self.name}: send() on a sink that is not open")
        self._send(frame)

    def close(self) -> None:
        if not self.is_open:
            return
        self.is_open = False
        self._close()

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- template methods ---------------------------------------------------------------------
    def _open(self, width: int, height: int) -> None:  # noqa: B027 (optional hook)
        """Acquire the output (window, file, sender). Default: nothing to acquire."""

    @abstractmethod
    def _send(self, frame: Frame) -> None:
        """Deliver one frame."""

    def _close(self) -> None:  # noqa: B027 (optional hook)
        """Release the output. Default: nothing to release."""
