"""OSC feedback: changed parameter values (and ``/engine/fps``) sent to one OSC receiver.

A sender thread wakes once per frame period, drains :meth:`ParamRegistry.drain_changes` and sends each
changed parameter as ``/its/address value`` (one float, what a TouchDesigner OSC In CHOP reads). So a
fader moved 1000 times between two frames costs one message, never a backlog. A value is not sent to the
host:port that set it (its ``source`` is ``("osc", host, port)``), so a controller that both sends and
listens on one port never sees its own moves echoed back. Triggers are events, not state, and are not
sent. ``/engine/fps`` goes out about once a second.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable

from pythonosc.osc_message_builder import build_msg

from ..core.params import ParamRegistry, address_of
from ..errors import OscError
from .osc_addresses import FPS_ADDRESS

log = logging.getLogger("netblend.osc")

FPS_PARAM = "engine.fps"
__all__ = ["FPS_ADDRESS", "FPS_PARAM", "FeedbackSender"]


class FeedbackSender:
    """Sends changed values to ``target`` from a background thread, at most once per frame period."""

    def __init__(self, registry: ParamRegistry, target: tuple[str, int],
                 frame_rate: float = 60.0,                          # drains per second, at most
                 fps_source: Callable[[], float] | None = None,     # default: the registry's engine.fps
                 fps_interval: float = 1.0,                         # seconds between /engine/fps messages
                 changes: Callable[[], dict[str, tuple[float, object]]] | None = None):  # ChangeFanout
        self.registry = registry
        self.changes = changes if changes is not None else registry.drain_changes
        self.period = 1.0 / max(frame_rate, 1e-3)
        self.fps_interval = fps_interval
        self.fps_source = fps_source if fps_source is not None else self._fps_from_registry
        try:
            family, _, _, _, sockaddr = socket.getaddrinfo(target[0], target[1], type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError) as e:
            raise OscError(f"OSC feedback host {target[0]!r} is unknown ({e}); give an IP address") from None
        self.target = (str(sockaddr[0]), int(sockaddr[1]))
        self._own_source = ("osc", self.target[0], self.target[1])
        self._socket = socket.socket(family, socket.SOCK_DGRAM)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_fps = 0.0
        self.sent = 0
        self.send_errors = 0

    def _fps_from_registry(self) -> float | None:
        return self.registry.get(FPS_PARAM) if FPS_PARAM in self.registry else None

    # ------------------------------------------------------------------ one round (testable)
    def send_changes(self) -> int:
        """Send every value changed since the last call (except echoes and triggers); returns the count."""
        count = 0
        for name, (value, source) in self.changes().items():
            if source == self._own_source or name == FPS_PARAM:
                continue
            if name not in self.registry or self.registry.spec(name).kind == "trigger":
                continue
            count += self._send(address_of(name), float(value))
        return count

    def send_fps(self) -> bool:
        """Send ``/engine/fps`` now, if there is a value to send."""
        try:
            fps = self.fps_source()
        except Exception as e:  # a broken fps source must not end feedback
            log.debug("no fps for feedback: %s", e)
            return False
        return fps is not None and self._send(FPS_ADDRESS, float(fps)) == 1

    def _send(self, address: str, value: float) -> int:
        try:
            self._socket.sendto(build_msg(address, value).dgram, self.target)
        except OSError as e:  # receiver gone (ICMP port unreachable), network down: try again next frame
            self.send_errors += 1
            if self.send_errors == 1:
                log.warning("OSC feedback to %s:%d failed: %s (keeps trying)", *self.target, e)
            return 0
        self.sent += 1
        return 1

    # ------------------------------------------------------------------ thread
    def _run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.send_changes()
                now = time.monotonic()
                if now >= self._next_fps and self.send_fps():   # the first one as soon as frames render
                    self._next_fps = now + self.fps_interval
            except Exception:  # feedback is a courtesy: log and keep the thread alive
                log.exception("OSC feedback round failed; continuing")

    def start(self) -> FeedbackSender:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="netblend-osc-feedback", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket. Idempotent."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self._socket.close()

    def __enter__(self) -> FeedbackSender:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
