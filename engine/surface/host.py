"""What the control surface needs from a running show, and how it is configured.

The surface never reaches into the show: it talks to a :class:`SurfaceHost`, a small protocol the show
implements (and the tests implement over a real registry). Everything a page or an OSCQuery client can
touch goes through it: registered parameters (``registry``), the actions (``actions``), the preset
names, the model list it was started with, a model swap restricted to that list, and frame timings.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..control.actions import Actions
from ..core.params import ParamRegistry
from ..errors import NetblendError

DEFAULT_HTTP_HOST = "127.0.0.1"
DEFAULT_HTTP_PORT = 9001

Changes = Callable[[], "dict[str, tuple[float, object]]"]


class SurfaceError(NetblendError):
    """The control surface cannot start (port in use, bad host) or a request it refuses."""


@runtime_checkable
class SurfaceHost(Protocol):
    """A show as the control surface sees it. Every method may be called from the surface's thread."""

    registry: ParamRegistry          # every parameter; OSC addresses are the dotted names with '/'
    actions: Actions                 # recall_preset, save_preset, tap_tempo, panic (learn_midi optional)

    def subscribe_changes(self) -> Changes:
        """A drain of the registry's changes for the surface alone: one ``ChangeFanout.subscribe()``
        of the show's single fanout, so OSC feedback and MIDI LEDs keep receiving theirs."""
        ...

    def list_presets(self) -> list[str]:
        """Names of the presets that can be recalled (the preset folder's listing)."""
        ...

    def models(self) -> list[str]:
        """The models playing now, model A first (paths as given, or labels like ``demo A``)."""
        ...

    def model_choices(self) -> list[str]:
        """The model files a page may swap to: those the engine was started with and those found in
        ``--models-dir``. A swap to anything else is refused before it reaches the host."""
        ...

    def swap_models(self, paths: Sequence[str]) -> None:
        """Load ``paths`` (all from :meth:`model_choices`) off the render thread and switch at a frame
        boundary; returns at once. A failed load leaves the current models playing."""
        ...

    def layer_resolutions(self) -> list[int]:
        """The output resolution of each blend layer, index order (labels and resolution groups)."""
        ...

    def fps(self) -> float:
        """Frames per second over about the last second."""
        ...

    def frame_ms(self) -> float:
        """Median render time of recent frames, in milliseconds."""
        ...

    def autosave_status(self) -> str:
        """One line for the page: ``every 30 s, last 21:04:05``, or ``off``."""
        ...


@dataclass
class SurfaceConfig:
    host: str = DEFAULT_HTTP_HOST        # interface to bind; anything beyond loopback requires a token
    port: int = DEFAULT_HTTP_PORT        # TCP port for HTTP and WebSocket; 0 picks a free one (tests)
    name: str = "netblend"               # HOST_INFO NAME and the zeroconf instance name
    osc_host: str | None = None          # the UDP OSC server, advertised in HOST_INFO (None: not running)
    osc_port: int | None = None
    announce: bool = False               # zeroconf _oscjson._tcp + _osc._udp on the LAN (--announce)
    token: str | None = None             # None: one is generated when bound beyond loopback
    open_to_lan_without_token: bool = False   # explicit opt-out of the token (a trusted, closed network)
    max_clients: int = 16                # WebSocket connections at once; more are refused (503)
    max_message_bytes: int = 64 * 1024   # larger WebSocket messages are ignored and counted
    messages_per_second: float = 2000.0  # OSC messages one client may send; the excess is dropped, counted
    slow_client_seconds: float = 5.0     # a client that takes longer to accept data is disconnected
    preview_side: int = 320              # longest side of the preview JPEG, pixels
    preview_quality: int = 75            # JPEG quality of the preview
    stats_interval: float = 0.5          # seconds between fps / frame-time updates and namespace checks


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the port on this machine (127.0.0.0/8, ::1, ``localhost``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
