"""The OSC server: one thread, one blocking UDP server, every datagram handed to an :class:`OscAdapter`.

Why this shape (measured, see the field notes): one ``BlockingOSCUDPServer`` in one thread received
every message up to 20k msg/s, where a thread-per-datagram server lost most of them. The handler only
parses and writes the newest value per parameter ("latest wins"); a bigger ``SO_RCVBUF`` absorbs bursts
while the render loop holds the GIL. It binds to 127.0.0.1 unless the user names another interface
(``--osc-host 0.0.0.0`` to accept senders on the network).
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
import time
from dataclasses import dataclass

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.osc_server import BlockingOSCUDPServer

from ..errors import OscError
from .osc import OscAdapter

log = logging.getLogger("netblend.osc")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9000
# Room for bursts (~1000 small datagrams) without a long backlog of stale input behind a flood.
# The kernel may cap it (net.core.rmem_max); we ask anyway.
RECEIVE_BUFFER_BYTES = 1024 * 1024


@dataclass
class OscServerConfig:
    host: str = DEFAULT_HOST                 # interface to bind; 0.0.0.0 opens it to the network
    port: int = DEFAULT_PORT                 # 0 picks a free port (tests)
    receive_buffer: int = RECEIVE_BUFFER_BYTES
    poll_interval: float = 0.2               # how often serve_forever checks for a stop request
    max_share: float = 0.2                   # at most this share of the time handling packets (see DutyCycle)


class DutyCycle:
    """Keeps the OSC thread to ``share`` of the wall clock, so a flood cannot starve the render loop.

    Handling a packet holds the GIL; under a flood the render thread would wait for it between every
    op. After ``share * window`` seconds of handling within a ``window``, the thread sleeps out the
    rest of the window (releasing the GIL); meanwhile datagrams queue in the socket buffer, and past
    it the kernel drops them at no cost to the show. Normal control traffic (thousands of messages a
    second) never comes near the budget.
    """

    def __init__(self, share: float = 0.2, window: float = 0.02,
                 clock=time.perf_counter, sleep=time.sleep):
        self.share, self.window = share, window
        self.clock, self.sleep = clock, sleep
        self.start = clock()
        self.busy = 0.0
        self.throttled = 0                      # how often the thread had to sleep

    def spent(self, seconds: float) -> None:
        """Account ``seconds`` of packet handling; sleeps when the window's budget is used up."""
        now = self.clock()
        if now - self.start >= self.window:
            self.start, self.busy = now, 0.0
        self.busy += seconds
        if self.busy >= self.share * self.window:
            self.throttled += 1
            self.sleep(max(self.window - (now - self.start), 0.0))
            self.start, self.busy = self.clock(), 0.0


class _PacketHandler(socketserver.BaseRequestHandler):
    """Hands the datagram to the adapter; never replies (OSC feedback has its own sender)."""

    def handle(self) -> None:
        self.server.adapter.handle_packet(self.request[0], self.client_address)  # type: ignore[attr-defined]


class _Server(BlockingOSCUDPServer):
    def __init__(self, address: tuple[str, int], adapter: OscAdapter, max_share: float = 0.2):
        super().__init__(address, adapter.dispatcher, bind_and_activate=False)
        self.RequestHandlerClass = _PacketHandler
        self.adapter = adapter
        self.duty = DutyCycle(max_share)

    def _handle_request_noblock(self) -> None:
        # The whole datagram (receive, check, handle) counts against the thread's time budget.
        t0 = time.perf_counter()
        super()._handle_request_noblock()  # type: ignore[misc]
        self.duty.spent(time.perf_counter() - t0)

    def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
        data = request[0]
        if len(data) % 4 == 0 and (OscMessage.dgram_is_message(data) or OscBundle.dgram_is_bundle(data)):
            return True
        self.adapter.stats.packets += 1
        self.adapter.stats.malformed += 1
        return False

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        log.exception("OSC packet from %s could not be handled; the server keeps running", client_address)


class OscServer:
    """Receives OSC on one background thread until :meth:`stop`; usable as a context manager."""

    def __init__(self, adapter: OscAdapter, config: OscServerConfig | None = None):
        self.adapter = adapter
        self.config = config or OscServerConfig()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """The bound ``(host, port)`` (the real port when the config asked for 0)."""
        if self._server is None:
            return (self.config.host, self.config.port)
        host, port = self._server.server_address[:2]
        return (str(host), int(port))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> OscServer:
        """Bind and start the server thread; raises :class:`OscError` when the port cannot be opened."""
        if self._server is not None:
            return self
        cfg = self.config
        server = _Server((cfg.host, cfg.port), self.adapter, cfg.max_share)
        try:
            server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, cfg.receive_buffer)
            server.server_bind()
            server.server_activate()
        except OSError as e:
            server.server_close()
            raise OscError(f"cannot open OSC port {cfg.host}:{cfg.port}: {e.strerror or e}; "
                           "pick another with --osc-port or stop the program using it") from None
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(cfg.poll_interval,),
                                        name="netblend-osc", daemon=True)
        self._thread.start()
        log.info("OSC listening on %s:%d", *self.address)
        return self

    def stop(self) -> None:
        """Stop the thread and close the socket. Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        if thread is not None:
            thread.join(timeout=5.0)
        server.server_close()
        self._server = None
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
