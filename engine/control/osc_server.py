"""The OSC server: one thread, one UDP socket drained every turn, each turn's datagrams handed to an
:class:`OscAdapter` in one batch.

Why this shape (measured, see the field notes): one receiving thread keeps up where a thread per
datagram lost most of them; and under a flood the kernel drops datagrams at random once its buffer is
full, so the last value a fader sent could be the one lost. Draining the socket each turn (cheap
reads, no parsing) and parsing only the newest message per address keeps the buffer empty far past
what a show sends, so the newest value is the one that stays. A bigger ``SO_RCVBUF`` absorbs bursts
while the render loop holds the GIL. It binds to 127.0.0.1 unless the user names another interface
(``--osc-host 0.0.0.0`` to accept senders on the network).
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from ..errors import OscError
from .osc import OscAdapter

log = logging.getLogger("netblend.osc")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
# Room for bursts: about 5000 small datagrams, a quarter second of a 20k msg/s flood. The kernel caps
# it at net.core.rmem_max (Linux: often 208 KB, about 500 datagrams; docs/touchdesigner.md says how to
# raise it); we ask anyway.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
MAX_DATAGRAM = 65535


@dataclass
class OscServerConfig:
    host: str = DEFAULT_HOST                 # interface to bind; 0.0.0.0 opens it to the network
    port: int = DEFAULT_PORT                 # 0 picks a free port (tests)
    receive_buffer: int = RECEIVE_BUFFER_BYTES
    poll_interval: float = 0.2               # longest wait for a datagram before checking for a stop
    max_share: float = 0.2                   # at most this share of the time handling packets (see DutyCycle)
    max_batch: int = 2048                    # datagrams read per turn at most


class DutyCycle:
    """Keeps the OSC thread to about ``share`` of the wall clock, so a flood cannot starve the render loop.

    Handling a packet holds the GIL; under a flood the render thread would wait for it between every
    op. After ``share * window`` seconds of handling within a ``window``, the thread sleeps (releasing
    the GIL) until its time is ``share`` of the time since the window began, but never longer than
    ``max_sleep``: meanwhile datagrams queue in the socket buffer, and a longer sleep would let it
    overflow, when the kernel drops new datagrams at random (the last value a fader sent among
    them). Normal control traffic (thousands of messages a second) never comes near the budget; a
    flood past it gets at most ``busy / (busy + max_sleep)`` of the time, one turn's work at a time.
    """

    def __init__(self, share: float = 0.2, window: float = 0.02, max_sleep: float = 0.02,
                 clock=time.perf_counter, sleep=time.sleep):
        self.share, self.window, self.max_sleep = share, window, max_sleep
        self.clock, self.sleep = clock, sleep
        self.start = clock()
        self.busy = 0.0
        self.throttled = 0                      # how often the thread had to sleep

    def spent(self, seconds: float) -> None:
        """Account ``seconds`` of packet handling; once the window's budget is used up, sleeps until
        the time spent is ``share`` of the time since the window began."""
        now = self.clock()
        if now - self.start >= self.window:
            self.start, self.busy = now, 0.0
        self.busy += seconds
        if self.busy >= self.share * self.window:
            self.throttled += 1
            self.sleep(min(max(self.busy / self.share - (now - self.start), 0.0), self.max_sleep))
            self.start, self.busy = self.clock(), 0.0


class OscServer:
    """Receives OSC on one background thread until :meth:`stop`; usable as a context manager.

    Each turn drains the socket (non-blocking reads until it is empty, at most ``max_batch``
    datagrams) and hands the whole batch to :meth:`OscAdapter.handle_datagrams`, which keeps the
    newest value per address and every button press (up to a bound). Reading is cheap (a few
    microseconds per datagram) and parsing happens only for what is kept, so the kernel buffer
    stays empty under floods well past what a show sends, and the last value sent is the one that
    stays. The adapter's answers (``/engine/describe``, ``/engine/dump``) leave from this socket.
    """

    def __init__(self, adapter: OscAdapter, config: OscServerConfig | None = None):
        self.adapter = adapter
        self.config = config or OscServerConfig()
        self.duty = DutyCycle(self.config.max_share)
        self.turns = 0
        self._socket: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (the real port when the config asked for 0)."""
        if self._socket is None:
            return (self.config.host, self.config.port)
        host, port = self._socket.getsockname()[:2]
        return (str(host), int(port))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> OscServer:
        """Bind and start the server thread; raises :class:`OscError` when the port cannot be opened."""
        if self._socket is not None:
            return self
        cfg = self.config
        try:
            family, _, _, _, address = socket.getaddrinfo(cfg.host, cfg.port, type=socket.SOCK_DGRAM)[0]
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except (OSError, UnicodeError) as e:
            raise OscError(f"cannot open OSC port {cfg.host}:{cfg.port}: {e}; give an IP address with "
                           "--osc-host") from None
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.receive_buffer)
            sock.bind(address)
            sock.setblocking(False)
        except OSError as e:
            sock.close()
            raise OscError(f"cannot open OSC port {cfg.host}:{cfg.port}: {e.strerror or e}; "
                           "pick another with --osc-port or stop the program using it") from None
        self._socket = sock
        self._wake = socket.socketpair()
        self._stop.clear()
        self.adapter.replies.send = self._send
        self._thread = threading.Thread(target=self._serve, name="netblend-osc", daemon=True)
        self._thread.start()
        log.info("OSC listening on %s:%d", *self.address)
        return self

    def _send(self, data: bytes, target: tuple[str, int]) -> None:
        if self._socket is not None:
            self._socket.sendto(data, target)

    def _serve(self) -> None:
        sock, wake = self._socket, self._wake
        assert sock is not None and wake is not None
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            selector.register(wake[0], selectors.EVENT_READ)
            while not self._stop.is_set():
                selector.select(self.config.poll_interval)
                if self._stop.is_set():
                    break
                t0 = time.thread_time()     # CPU time: a busy machine must not look like a flood
                batch = self._drain(sock)
                if batch:
                    self.turns += 1
                    try:
                        self.adapter.handle_datagrams(batch)
                    except Exception:  # the adapter never raises; if it does, the server keeps running
                        log.exception("OSC input could not be handled; the server keeps running")
                    self.duty.spent(time.thread_time() - t0)

    def _drain(self, sock: socket.socket) -> list[tuple[bytes, tuple[str, int]]]:
        """Every datagram waiting in the socket (at most ``max_batch``), without blocking."""
        batch: list[tuple[bytes, tuple[str, int]]] = []
        receive = sock.recvfrom
        for _ in range(self.config.max_batch):
            try:
                data, sender = receive(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:     # Windows reports an earlier answer's ICMP "port unreachable" here
                continue
            batch.append((data, (str(sender[0]), int(sender[1]))))
        return batch

    def stop(self) -> None:
        """Stop the thread and close the socket. Idempotent."""
        if self._socket is None:
            return
        self._stop.set()
        if self._wake is not None:
            try:
                self._wake[1].send(b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.adapter.replies.send = None
        self._socket.close()
        for end in self._wake or ():
            end.close()
        self._socket = None
        self._wake = None
        self._thread = None

    def __enter__(self) -> OscServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def parse_host_port(text: str, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` or ``PORT`` (and ``[::1]:PORT``) -> ``(host, port)``."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep:
        host, port_text = "", text.strip()
    host = host.strip("[]") or default_host
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise OscError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9001)")
    return host, port
