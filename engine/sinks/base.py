"""The sink protocol: where frames go. ``open(width, height)``, ``send(frame)``, ``close()``.

A frame is a :class:`Frame`: uint8 RGBA pixels, ``[H, W, 4]``, row 0 at the top, stamped with its
frame number and the show clock's time. ``frame.pixels`` is a torch tensor that may live on the GPU
and is reused by the renderer for the next frame: a sink that keeps pixels past ``send`` must own a
copy. ``frame.host()`` gives a contiguous CPU tensor (read back once per frame, shared by every sink
that needs host memory).

**No sink may slow the show.** By default a sink's ``_send`` runs on its own delivery thread
(:class:`~engine.sinks.delivery.Delivery`): ``send`` copies the frame into a buffer the sink owns and
returns at once; a sink still busy with an older frame drops the waiting one (counted in
``dropped``). Only sinks that must run on the render thread (a GL context lives on one thread: the
window, Spout) set ``on_render_thread = True`` and must return in well under a frame.

A sink that fails on its delivery thread is reported at once (logged) and at the next ``send``
(which raises :class:`SinkError`, so the show drops it); ``failure`` keeps the reason for the exit
status. Subclasses implement ``_open``, ``_send`` and ``_close`` (template methods, like mido's
``BasePort``); this base makes ``close`` idempotent, makes every sink a context manager and refuses
``send`` on a sink that is not open. An optional backend declares ``why_not()`` so ``netblend sinks``
can say why it is missing instead of crashing. ``OPTIONS`` lists the ``key=value`` options a sink's
spec takes; ``check()`` validates what can be checked before the show starts, writing nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from ..errors import NetblendError


class SinkError(NetblendError, RuntimeError):
    """A sink that cannot open or send. The message names the sink and the fix."""


@dataclass
class Frame:
    pixels: Any                          # torch.uint8 [H, W, 4], RGBA, any device
    index: int = 0                       # frame number
    t: float = 0.0                       # the show clock's time in seconds (runs on while paused)
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



NO_OPTIONS: Mapping[str, str] = MappingProxyType({})


class Sink(ABC):
    """Base class of every output. Subclasses override ``_open``, ``_send``, ``_close``."""

    name = "sink"                 # the spec word: null, window, record, ...
    needs_host = True             # False where a sink can consume GPU memory itself
    on_render_thread = False      # True: ``_send`` runs on the render thread (GL) and must be quick
    waiting_frames = 1            # frames that may wait for the delivery thread (1: the latest wins)
    OPTIONS: ClassVar[Mapping[str, str]] = NO_OPTIONS   # spec options this sink takes -> what they do

    def __init__(self) -> None:
        self.is_open = False
        self.size: tuple[int, int] | None = None
        self.lossless = False                # wait for the delivery thread instead of dropping (offline)
        self.failure: str | None = None      # what went wrong (reported at exit); set by the sink too
        self._delivery: Any = None
        self._failure_raised = False
        self._inline_delivered = 0

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

    def check(self) -> None:  # noqa: B027 (optional hook)
        """Raise :class:`SinkError` for what can be known wrong before the show (a file that cannot be
        written, a codec that is missing); writes nothing. Default: nothing to check."""

    @property
    def label(self) -> str:
        """How messages name this output (``record out.mp4``)."""
        return self.name

    # -- counters -----------------------------------------------------------------------------
    @property
    def delivered(self) -> int:
        """Frames the output took."""
        return self._delivery.delivered if self._delivery is not None else self._inline_delivered

    @property
    def dropped(self) -> int:
        """Frames skipped because the output was still busy with an older one."""
        return self._delivery.dropped if self._delivery is not None else 0

    # -- protocol -------------------------------------------------------------------------------
    def open(self, width: int, height: int) -> Sink:
        if self.is_open:
            return self
        reason = self._unavailable()
        if reason is not None:
            raise SinkError(f"{self.name}: {reason}")
        self._open(width, height)
        if not self.on_render_thread:
            from .delivery import Delivery

            self._delivery = Delivery(self._send, self.label, depth=self.waiting_frames, lossless=self.lossless,
                                      on_error=self._delivery_failed)
        self.size = (width, height)
        self.is_open = True
        return self

    def send(self, frame: Frame) -> None:
        if not self.is_open:
            raise SinkError(f"{self.name}: send() on a sink that is not open")
        if self._delivery is None:
            self._send(frame)
            self._inline_delivered += 1
            return
        if self._delivery.error is not None:
            self._failure_raised = True
            raise SinkError(f"{self.label}: {self._delivery.error}")
        if self._wants(frame):
            try:
                self._delivery.put(frame)
            except RuntimeError as e:
                self._failure_raised = True
                raise SinkError(f"{self.label}: {e}") from None

    def close(self) -> None:
        """Deliver what waits, release the output; raises :class:`SinkError` for a failure that no
        ``send`` reported yet (a failed final flush, a lost still)."""
        if not self.is_open:
            return
        self.is_open = False
        finished = True
        if self._delivery is not None:
            finished = self._delivery.close()
        if not finished:
            self.failure = self.failure or "did not finish delivering its last frames in time"
        else:
            try:
                self._close()
            except Exception as e:
                self.failure = self.failure or f"{e or type(e).__name__}"
        if self.failure is not None and not self._failure_raised:
            self._failure_raised = True
            raise SinkError(f"{self.label}: {self.failure}")

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every frame sent so far was delivered (tests; offline flush points)."""
        return True if self._delivery is None else self._delivery.wait_idle(timeout)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- template methods ---------------------------------------------------------------------
    def _open(self, width: int, height: int) -> None:  # noqa: B027 (optional hook)
        """Acquire the output (window, file, sender). Default: nothing to acquire."""

    def _wants(self, frame: Frame) -> bool:
        """Render thread: does this frame go to the output at all? (Snapshots: only when due.)"""
        return True

    @abstractmethod
    def _send(self, frame: Frame) -> None:
        """Deliver one frame (on the delivery thread unless ``on_render_thread``)."""

    def _delivery_failed(self, error: Exception) -> str:
        """Delivery thread: ``_send`` raised ``error``; returns the message to report (and keeps it)."""
        self.failure = self.failure or f"{error or type(error).__name__}"
        return self.failure

    def _close(self) -> None:  # noqa: B027 (optional hook)
        """Release the output. Default: nothing to release."""


def option_number(sink: str, options: Mapping[str, str], key: str, default: float, *, integer: bool = False,
                  low: float | None = None, high: float | None = None) -> Any:
    """``options[key]`` as a number (``default`` when absent); a bad value is a one-line SinkError."""
    if key not in options:
        return default
    text = options[key]
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise SinkError(f"{sink}: {key}={text!r} is not {kind}, e.g. {key}={default:g}") from None
    if (low is not None and value < low) or (high is not None and value > high) or value != value:
        bounds = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise SinkError(f"{sink}: {key}={text} is out of range; use a value {bounds}")
    return value


def option_flag(sink: str, options: Mapping[str, str], key: str, default: bool = False) -> bool:
    """``options[key]`` as a yes/no (``key`` alone means yes); a bad value is a one-line SinkError."""
    if key not in options:
        return default
    text = options[key].strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise SinkError(f"{sink}: {key}={options[key]!r}: write {key}=1 or {key}=0")
