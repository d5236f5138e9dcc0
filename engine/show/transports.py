"""Wiring a show's transports from plain configuration: OSC in and feedback out, MIDI controllers,
Ableton Link, the autosave and the control recorder. No argparse here (``engine/commands`` builds the
configs); every part is attached to the show, which closes it at the end.

:func:`check_transports` validates what can be checked without a model (mapping files, the feedback
address), so ``netblend run`` reports those mistakes before loading anything. :func:`start_transports`
runs after the warm-up, so once the engine says it is up every message it receives counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..control.mapping import load_mapping
from ..control.osc_server import DEFAULT_HOST, DEFAULT_PORT, parse_host_port
from ..core.paths import user_dir

log = logging.getLogger("netblend")


@dataclass
class OscConfig:
    host: str = DEFAULT_HOST                     # interface to receive on (0.0.0.0 = every interface)
    port: int = DEFAULT_PORT                     # 0 = no OSC input
    feedback: str | None = None                  # HOST:PORT that gets changed values and /engine/fps
    maps: list[str] = field(default_factory=list)   # mapping files whose [[osc]] aliases are accepted


@dataclass
class MidiConfig:
    mappings: list[str] = field(default_factory=list)   # controller mapping files
    port: str | None = None                             # input port regex (overrides the mappings')
    learn_file: Path = field(default_factory=lambda: user_dir("learned.toml"))


@dataclass
class SurfaceSettings:
    port: int | None = None                      # the control page and OSCQuery (HTTP + WebSocket); None = off
    host: str = "127.0.0.1"                      # beyond loopback a token is required (printed at start)
    models_dir: str | None = None                # model files the page may swap to (besides the given ones)
    announce: bool = False                       # zeroconf on the LAN (_oscjson._tcp, _osc._udp)


@dataclass
class TransportConfig:
    osc: OscConfig = field(default_factory=OscConfig)
    midi: MidiConfig = field(default_factory=MidiConfig)
    surface: SurfaceSettings = field(default_factory=SurfaceSettings)
    audio_in: str | None = None                  # an audio input device (name fragment or index)
    link: bool = False                           # join an Ableton Link session (announces on the LAN)
    autosave: float = 30.0                       # seconds between autosaves; 0 = off
    record_controls: str | None = None           # control log for `netblend render --controls`


def check_transports(config: TransportConfig) -> None:
    """Raise the one-line error of a bad mapping file or feedback address, before any model loads."""
    for path in [*config.midi.mappings, *config.osc.maps]:
        load_mapping(path)            # a path or a shipped map's name; a missing one names the shipped maps
    if config.osc.feedback:
        parse_host_port(config.osc.feedback)
    if config.osc.port:
        _probe_udp_port(config.osc.host, config.osc.port)
    if config.surface.port:
        _probe_tcp_port(config.surface.host, config.surface.port)


def _probe_tcp_port(host: str, port: int) -> None:
    """Raise a one-line SurfaceError when the control page's ``host:port`` cannot be bound."""
    from ..surface.host import SurfaceError

    _probe(host, port, "tcp", SurfaceError, "--http-host", f"cannot open the control page on {host}:{port}",
           "pick another port with --http-port (0 = no page) or stop the program using it")


def _probe_udp_port(host: str, port: int) -> None:
    """Raise the OSC server's own error when ``host:port`` cannot be bound (busy, no such interface)."""
    from ..errors import OscError

    _probe(host, port, "udp", OscError, "--osc-host", f"cannot open OSC port {host}:{port}",
           "pick another with --osc-port or stop the program using it")


def _probe(host: str, port: int, kind: str, error: type[Exception], option: str, what: str, fix: str) -> None:
    """Bind ``host:port`` for a moment (and let it go): the start-up check of a port before any model loads."""
    import socket

    sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    try:
        family = socket.getaddrinfo(host, port, type=sock_type)[0][0]
        probe = socket.socket(family, sock_type)
    except (OSError, UnicodeError) as e:
        raise error(f"{option} {host}: {e}; give an interface address such as 127.0.0.1 or 0.0.0.0") from None
    try:
        if kind == "tcp":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as e:
        raise error(f"{what}: {e.strerror or e}; {fix}") from None
    finally:
        probe.close()


def start_transports(show, config: TransportConfig) -> list[str]:
    """Start what ``config`` asks for on ``show``; returns status lines for the start-up message."""
    mods = tuple(m for path in config.midi.mappings + config.osc.maps for m in load_mapping(path).mods)
    if mods:
        show.set_modulators(mapping_mods=mods)
    lines = _start_osc(show, config.osc)
    lines += _start_midi(show, config.midi)
    if config.audio_in is not None:
        from ..control.audio import start_audio

        audio = start_audio(show.registry, config.audio_in)
        show.add_closer(audio.stop)
        lines.append(f"audio in: {config.audio_in} (audio.level, .low, .mid, .high, .onset, .beat)")
    if config.link:
        from .tempo import start_link

        show.attach(start_link(show.registry))
        lines.append("Ableton Link: joined (tempo follows the session both ways)")
    autosaver = None
    if config.autosave > 0:
        from .presets import Autosaver

        autosaver = show.attach(Autosaver(show.presets, interval=config.autosave).start())
    if config.surface.port is not None:
        lines += _start_surface(show, config.surface, autosaver)
    if config.record_controls:
        from .control_log import ControlRecorder

        state = show.presets.capture("start")
        show.attach(ControlRecorder(show.registry, config.record_controls, initial={
            "models": [str(p) for p in show.model_paths],
            "keyframes": [k if isinstance(k, int) else str(k) for k in state.keyframes]}))
    return lines


def _start_osc(show, config: OscConfig) -> list[str]:
    from ..control.feedback import FeedbackSender
    from ..control.osc import OscAdapter, load_osc_aliases
    from ..control.osc_query import OscReplies
    from ..control.osc_server import OscServer, OscServerConfig

    lines = []
    stats, clock = show.loop.stats, show.clock
    fps_source = lambda: stats.fps_at(clock.now())  # noqa: E731  (None before the first frame)
    feedback = None
    if config.feedback:
        feedback = FeedbackSender(show.registry, parse_host_port(config.feedback), show.loop.fps or 60.0,
                                  fps_source=fps_source, changes=show.changes.subscribe())
        show.add_closer(feedback.stop)
    if config.port:
        aliases = [a for path in config.maps for a in load_osc_aliases(path)]
        replies = OscReplies(feedback=feedback.target if feedback else None, fps_source=fps_source)
        adapter = OscAdapter(show.registry, show.actions, aliases, replies=replies)
        server = OscServer(adapter, OscServerConfig(host=config.host, port=config.port)).start()
        show.add_closer(server.stop)
        show.osc = adapter
        host, port = server.address
        show.osc_address = (host, port)
        lines.append(f"OSC on {host}:{port} (`netblend osc` lists the addresses; /engine/describe asks "
                     "a running engine)")
    if feedback is not None:
        feedback.start()
        lines.append(f"OSC feedback to {feedback.target[0]}:{feedback.target[1]} (/engine/dump sends every value)")
    return lines


def _start_surface(show, settings: SurfaceSettings, autosaver) -> list[str]:
    """The control page and OSCQuery server on its own thread; the preview is one more output."""
    from ..surface import SurfaceConfig, start_surface
    from .surface_host import ShowSurfaceHost

    osc_host, osc_port = show.osc_address or (None, None)
    surface = start_surface(ShowSurfaceHost(show, settings.models_dir, autosaver),
                            SurfaceConfig(host=settings.host, port=settings.port or 0, osc_host=osc_host,
                                          osc_port=osc_port, announce=settings.announce))
    show.add_closer(surface.stop)
    show.add_sink(surface.preview)
    show.loop.hooks.after_frame.append(lambda frame, ft: surface.on_frame())
    show.surface = surface
    return [f"control page: {surface.url} (OSCQuery on the same port)"]


def _start_midi(show, config: MidiConfig) -> list[str]:
    """Open the controllers of the mapping files (and learn mode) for ``show``."""
    from ..control.live_midi import LiveMidi
    from ..control.mapping import load_mapping
    from ..control.midi_ports import MidiUnavailable

    midi_maps = [m for m in (load_mapping(p) for p in config.mappings) if m.midi]
    if not midi_maps and not config.port:
        return []
    for problem in (p for m in midi_maps for p in m.unknown_params(show.registry)):
        log.warning("%s (skipped)", problem)
    midi = LiveMidi(show.registry, show.actions, tempo=show.tempo, learn_file=config.learn_file)
    try:
        lines = midi.open(midi_maps, config.port)
    except MidiUnavailable as e:
        midi.close()
        return [f"{e}; the show runs without MIDI"]
    show.midi = midi
    show.add_closer(midi.close)
    return lines
