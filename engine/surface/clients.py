"""One connected WebSocket client: what it listens to, what waits to be sent, how fast it may write.

Values wait in a dict keyed by address ("latest wins"), so a client that reads slowly never builds a
backlog: its pending data is bounded by the size of the namespace. A client that does not accept data
for ``slow_client_seconds`` (a phone that lost the network, a stalled tab) is disconnected; the engine
never waits for it. Notices (``PATH_ADDED`` ...) go in a short bounded queue.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("netblend.surface")


@dataclass
class SurfaceStats:
    """What the surface has seen; read by tests and logged on problems (written on its own thread)."""

    requests: int = 0
    forbidden: int = 0               # wrong or missing token, foreign Host or Origin
    bad_requests: int = 0            # unknown attributes, bad JSON bodies, models not in the list
    clients: int = 0                 # WebSocket clients connected now
    refused_clients: int = 0         # over max_clients
    osc_packets: int = 0             # binary OSC packets received over WebSockets
    bad_json: int = 0                # text messages that are not JSON objects with a COMMAND
    unknown_commands: int = 0
    oversize: int = 0                # messages over max_message_bytes (ignored)
    rate_limited: int = 0            # OSC packets over messages_per_second (dropped)
    slow_dropped: int = 0            # clients disconnected for not accepting data
    streamed: int = 0                # OSC messages sent to listeners
    logged: set[str] = field(default_factory=set)

    def warn_once(self, key: str, fmt: str, *args: object) -> None:
        """Log a problem the first time it happens (the counters keep counting)."""
        if key not in self.logged and len(self.logged) < 50:
            self.logged.add(key)
            log.warning(fmt + " (counted; logged once)", *args)


class TokenBucket:
    """``rate`` events per second with bursts of ``rate / 4``; :meth:`take` says whether one may pass."""

    def __init__(self, rate: float, clock=time.monotonic):
        self.rate = rate
        self.capacity = max(rate / 4.0, 1.0)
        self.tokens = self.capacity
        self.clock = clock
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class SlowClient(Exception):
    """A client that did not take its data in time."""


class Client:
    """State of one WebSocket connection; the sender task runs on the surface's event loop."""

    def __init__(self, ws: Any, transport: Any, source: tuple[str, str, int], rate: float, slow_seconds: float):
        self.ws = ws
        self.transport = transport                   # aborted when the client is too slow
        self.source = source                         # the registry source of its writes (no echo)
        self.exact: set[str] = set()
        self.prefixes: set[str] = set()              # LISTEN on a container: every method below it
        self.pending: dict[str, bytes] = {}
        self.notices: deque[str] = deque(maxlen=256)
        self.wake = asyncio.Event()
        self.bucket = TokenBucket(rate)
        self.slow_seconds = slow_seconds

    @property
    def listening(self) -> bool:
        return bool(self.exact or self.prefixes)

    def listens(self, address: str) -> bool:
        return address in self.exact or any(address.startswith(p) for p in self.prefixes)

    def listen(self, address: str, container: bool) -> None:
        if container:
            self.prefixes.add("/" if address == "/" else address.rstrip("/") + "/")
        else:
            self.exact.add(address)

    def ignore(self, address: str) -> None:
        self.exact.discard(address)
        self.prefixes.discard("/" if address == "/" else address.rstrip("/") + "/")

    def push(self, address: str, data: bytes) -> None:
        self.pending[address] = data
        self.wake.set()

    def notify(self, command: str, data: object) -> None:
        self.notices.append(json.dumps({"COMMAND": command, "DATA": data}))
        self.wake.set()

    async def _send(self, coro) -> None:  # type: ignore[no-untyped-def]
        try:
            await asyncio.wait_for(coro, self.slow_seconds)
        except asyncio.TimeoutError:
            raise SlowClient() from None

    async def run_sender(self, stats: SurfaceStats) -> None:
        """Send notices and pending values until the connection closes; drop the client when slow."""
        try:
            while not self.ws.closed:
                await self.wake.wait()
                self.wake.clear()
                while self.notices:
                    await self._send(self.ws.send_str(self.notices.popleft()))
                batch, self.pending = self.pending, {}
                for data in batch.values():
                    await self._send(self.ws.send_bytes(data))
                    stats.streamed += 1
        except SlowClient:
            stats.slow_dropped += 1
            stats.warn_once("slow", "a control page stopped accepting data for %.0f s and was disconnected",
                            self.slow_seconds)
            if self.transport is not None:
                self.transport.abort()                # no closing handshake: it would wait as well
        except (ConnectionError, RuntimeError):
            pass                                      # closed while sending: the receive loop ends it
