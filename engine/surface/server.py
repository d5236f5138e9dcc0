"""The control surface: one HTTP + WebSocket port on its own thread and event loop.

    surface = start_surface(host, SurfaceConfig(port=9001))   # raises SurfaceError when it cannot bind
    sinks.append(surface.preview)                             # frames for the page's preview
    ...                                                       # every frame, on the render thread:
    surface.on_frame()                                        # wakes the streamer, nothing more
    ...
    surface.stop()

What the render thread pays: :meth:`Surface.on_frame` is a flag test while no client listens, and one
``call_soon_threadsafe`` per frame while some do; :class:`~.preview.PreviewSink` is a flag test unless a
page asks for a picture. Everything else (draining changes, encoding OSC and JSON and JPEG, sockets)
happens on the surface's own thread.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

from aiohttp import web
from pythonosc.osc_message_builder import build_msg

from ..control.osc import OscAdapter
from ..core.params import ParamSpec
from .clients import Client, SurfaceStats
from .host import SurfaceConfig, SurfaceError, SurfaceHost, is_loopback
from .namespace import FPS_ADDRESS, FRAME_MS_ADDRESS, Namespace, Readings, json_value
from .preview import PreviewSink
from .security import resolve_token

log = logging.getLogger("netblend.surface")
STOP_TIMEOUT = 5.0


class Surface:
    """A running control surface (see the module docstring). Build it with :func:`start_surface`."""

    def __init__(self, host: SurfaceHost, config: SurfaceConfig):
        self.host = host
        self.config = config
        self.token = resolve_token(config)
        self.stats = SurfaceStats()
        self.adapter = OscAdapter(host.registry, host.actions)
        self.preview = PreviewSink(config.preview_side, config.preview_quality)
        self.clients: set[Client] = set()
        self.port = config.port
        self._changes = host.subscribe_changes()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._listening = False
        self._wake_pending = False
        self._methods: dict[str, ParamSpec | None] = {}
        self._readings = Readings()
        self._captured: asyncio.Event | None = None
        self._announcer: Any = None

    # ------------------------------------------------------------------ lifetime
    def start(self) -> Surface:
        """Bind the port and start the server thread; raises :class:`SurfaceError` when it cannot."""
        ready = threading.Event()
        failure: list[BaseException] = []
        self._refresh_methods()
        self._thread = threading.Thread(target=self._serve, args=(ready, failure), name="netblend-surface",
                                        daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join(STOP_TIMEOUT)
            self._thread = None
            error = failure[0]
            reason = getattr(error, "strerror", None) or error
            raise SurfaceError(f"cannot open the control port {self.config.host}:{self.config.port}: {reason}; "
                               "pick another with --http-port (0 turns it off) or stop the program using it") from None
        if self.config.announce:
            from .announce import Announcer

            self._announcer = Announcer(self.config, self.port).start()
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._open())
        except (OSError, RuntimeError) as e:
            failure.append(e)
            ready.set()
            loop.close()
            return
        ready.set()
        periodic = loop.create_task(self._periodic())
        try:
            loop.run_forever()
        finally:
            periodic.cancel()
            loop.run_until_complete(self._close())
            loop.close()

    async def _open(self) -> None:
        from .http import build_app

        self._captured = asyncio.Event()
        loop = asyncio.get_running_loop()
        captured = self._captured
        def wake() -> None:
            loop.call_soon_threadsafe(captured.set)

        self.preview.on_capture = wake
        self._runner = web.AppRunner(build_app(self), handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        await site.start()
        for address in self._runner.addresses:
            self.port = int(address[1])

    async def _close(self) -> None:
        for client in list(self.clients):
            await client.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Close every connection and the port, end the thread. Idempotent."""
        if self._announcer is not None:
            self._announcer.stop()
            self._announcer = None
        self.preview.on_capture = None
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(STOP_TIMEOUT)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Surface:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The page's address, token included (what ``netblend run`` prints)."""
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        query = f"?token={self.token}" if self.token else ""
        return f"http://{host}:{self.port}/ui/{query}"

    # ------------------------------------------------------------------ render thread
    def on_frame(self, *_: object) -> None:
        """Called once per frame by the loop: wakes the streamer when someone listens. Never blocks."""
        if self._listening and not self._wake_pending:
            loop = self._loop
            if loop is not None:
                self._wake_pending = True
                try:
                    loop.call_soon_threadsafe(self._flush)
                except RuntimeError:          # the loop closed in between (stopping)
                    self._wake_pending = False

    # ------------------------------------------------------------------ surface thread
    def update_listening(self) -> None:
        self._listening = any(c.listening for c in self.clients)

    def _flush(self) -> None:
        self._wake_pending = False
        changes = self._changes()
        if not changes or not self.clients:
            return
        registry = self.host.registry
        for name, (value, source) in changes.items():
            address = "/" + name.replace(".", "/")
            spec = self._methods.get(address)
            if spec is None or spec.kind == "trigger" or name not in registry:
                continue
            data: bytes | None = None
            for client in self.clients:
                if client.source != source and client.listens(address):
                    data = data or build_msg(address, json_value(spec, value)).dgram
                    client.push(address, data)

    def kind_of(self, address: str) -> str | None:
        """``"method"``, ``"container"`` or None for an address of the namespace."""
        if address in self._methods:
            return "method"
        prefix = "/" if address == "/" else address + "/"
        return "container" if any(a.startswith(prefix) for a in self._methods) else None

    def send_current(self, client: Client, address: str) -> None:
        """Send ``client`` the current value of every readable method at or under ``address``."""
        targets = self.host.registry.targets()
        for method, spec in self._methods.items():
            if not client.listens(method) or not (method == address or method.startswith(address.rstrip("/") + "/")):
                continue
            value = self._read(method, spec, targets)
            if value is not None:
                client.push(method, build_msg(method, value).dgram)

    def _read(self, address: str, spec: ParamSpec | None, targets: dict[str, float]) -> Any:
        if address == FPS_ADDRESS and (spec is None or spec.name not in targets):
            return float(self._readings.fps)
        if address == FRAME_MS_ADDRESS and (spec is None or spec.name not in targets):
            return float(self._readings.frame_ms)
        if spec is None or spec.kind == "trigger" or spec.name not in targets:
            return None
        return json_value(spec, targets[spec.name])

    def namespace(self) -> Namespace:
        """The OSCQuery tree as it is now (built per request on this thread)."""
        return Namespace(list(self.host.registry), self.host.registry.targets(), self.host.list_presets(),
                         self._readings, self.config.name)

    def _refresh_methods(self) -> tuple[set[str], set[str]]:
        """Re-read the registry's structure; returns the (added, removed) method addresses."""
        old = set(self._methods)
        methods: dict[str, ParamSpec | None] = {spec.address: spec for spec in list(self.host.registry)}
        for address in (FPS_ADDRESS, FRAME_MS_ADDRESS):
            methods.setdefault(address, None)
        self._methods = methods
        new = set(methods)
        return (new - old, old - new) if old else (set(), set())

    async def _periodic(self) -> None:
        """Frame-rate readings to listeners, and PATH_ADDED / PATH_REMOVED when the namespace changes."""
        while True:
            await asyncio.sleep(self.config.stats_interval)
            try:
                self._readings = Readings(float(self.host.fps()), float(self.host.frame_ms()))
                added, removed = self._refresh_methods()
                if added or removed:
                    self._announce_paths(added, removed)
                for client in self.clients:
                    for address in (FPS_ADDRESS, FRAME_MS_ADDRESS):
                        if client.listens(address):
                            value = self._read(address, self._methods.get(address), {})
                            client.push(address, build_msg(address, value).dgram)
            except Exception:  # a broken reading must not end the surface
                log.exception("control surface update failed; continuing")

    def _announce_paths(self, added: set[str], removed: set[str]) -> None:
        changed = sorted(added | removed)
        parts = [a.strip("/").split("/") for a in changed]
        common: list[str] = []
        for column in zip(*parts):
            if len(set(column)) != 1:
                break
            common.append(column[0])
        parent = "/" + "/".join(common[:-1] if common and len(changed) == 1 else common)
        for client in self.clients:
            for address in sorted(removed):
                client.notify("PATH_REMOVED", address)
            for address in sorted(added):
                client.notify("PATH_ADDED", address)
            client.notify("PATH_CHANGED", parent)

    async def preview_jpeg(self, wait: float) -> bytes | None:
        """Ask the preview sink for the next frame (waiting up to ``wait`` s) and encode it off the loop."""
        assert self._captured is not None
        before = self.preview.captured
        self._captured.clear()
        self.preview.request()
        if before == self.preview.captured:
            try:
                await asyncio.wait_for(self._captured.wait(), wait)
            except asyncio.TimeoutError:
                pass                                  # paused or slow: the last picture will do
        return await asyncio.get_running_loop().run_in_executor(None, self.preview.jpeg)


def start_surface(host: SurfaceHost, config: SurfaceConfig | None = None) -> Surface:
    """Start the control surface for ``host``: OSCQuery + WebSocket + page on ``config.port``.

    Raises :class:`SurfaceError` with the fix when the port cannot be opened. Warns when the port is
    open beyond this machine without a token (``open_to_lan_without_token``)."""
    config = config or SurfaceConfig()
    surface = Surface(host, config).start()
    if surface.token is None and not is_loopback(config.host):
        log.warning("the control port %s:%d is open to the network WITHOUT a token", config.host, surface.port)
    return surface
