"""`netblend run`: the live engine. With no model it plays the built-in demo pair.

Start-up problems (a missing model, a busy OSC port, a bad mapping file) are one-line errors with
the fix, and everything that needs no model is checked before the models load. The order is: check,
load and assemble the show, open the outputs, warm up, then open the transports (OSC, MIDI, Link)
and say the show is up: from that moment every control message counts. Once the show runs nothing
stops it but Ctrl-C, closing the window, SIGTERM or ``--seconds``; then one summary line is printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

DEFAULT_OSC_HOST, DEFAULT_OSC_PORT = "127.0.0.1", 9000


def configure(parser) -> None:
    from . import add_show_arguments

    add_show_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="restore the state autosaved by the last run")
    parser.add_argument("--mapping", metavar="F", action="append", default=[],
                        help="controller mapping file (mappings/*.toml); repeatable")
    parser.add_argument("--sink", metavar="SPEC", action="append", default=[],
                        help="output: window, null, record:FILE.mp4, snapshot:DIR, ndi:NAME, spout:NAME, "
                             "syphon:NAME, vcam (repeatable; default: window, or null without a display)")
    parser.add_argument("--fps", type=float, default=None, help="target frame rate (default: as fast as possible)")
    parser.add_argument("--kiosk", action="store_true",
                        help="installation mode: the window is fullscreen without a cursor, and neither Esc, "
                             "keys nor the close button stop or change the show (SIGTERM / Ctrl-C do)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--midi-port", metavar="REGEX", help="MIDI input ports to open (name regex)")
    parser.add_argument("--learn-file", metavar="F", default=None,
                        help="where /midi/learn writes bindings (default: learned.toml in the user folder; "
                             "load it with --mapping)")
    parser.add_argument("--record-controls", metavar="LOG", help="log every control change for `netblend render`")
    parser.add_argument("--autosave", type=float, default=30.0, metavar="S",
                        help="autosave the live state every S seconds (0 = off; default 30)")
    parser.add_argument("--link", action="store_true", help="join an Ableton Link session (tempo) on the LAN")
    parser.add_argument("--profile", action="store_true",
                        help="time each stage (blend, mapping, synthesis, convert, sinks) and print medians at exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    page = parser.add_argument_group("control page and OSCQuery")
    page.add_argument("--http-port", type=int, default=9001, metavar="N",
                      help="the browser control page and OSCQuery server (default 9001; 0 = off)")
    page.add_argument("--http-host", default="127.0.0.1", metavar="H",
                      help="interface for the page (default 127.0.0.1; beyond it a token is required, "
                           "printed at start)")
    page.add_argument("--models-dir", metavar="DIR", help="model files the page may swap to (besides those given)")
    page.add_argument("--announce", action="store_true",
                      help="announce OSCQuery and OSC on the LAN with zeroconf (Chataigne, ossia, VRChat find it)")
    parser.add_argument("--audio-in", metavar="DEVICE", default=None,
                        help="analyse this audio input live (a name fragment or index; `netblend audio` lists them)")
    inst = parser.add_argument_group("installations")
    inst.add_argument("--playlist", metavar="FILE", help="cue list: recall presets in turn (docs/installations.md)")
    inst.add_argument("--watchdog", type=float, metavar="S", default=None,
                      help="run the engine as a child process and restart it (with --resume) when no frame "
                           "renders for S seconds or it crashes")
    inst.add_argument("--log", metavar="FILE", help="also log to FILE (rotated at 10 MB, 3 kept), with timestamps")
    inst.add_argument("--heartbeat", metavar="FILE", help=argparse.SUPPRESS)
    group = parser.add_argument_group("OSC")
    group.add_argument("--osc-host", default=DEFAULT_OSC_HOST,
                       help=f"interface to receive OSC on (default {DEFAULT_OSC_HOST}; 0.0.0.0 = all)")
    group.add_argument("--osc-port", type=int, default=DEFAULT_OSC_PORT,
                       help=f"UDP port to receive OSC on (default {DEFAULT_OSC_PORT}; 0 = off)")
    group.add_argument("--osc-feedback", metavar="HOST:PORT", default=None,
                       help="send changed values and /engine/fps to this OSC receiver")
    group.add_argument("--osc-map", metavar="FILE", action="append", default=[],
                       help="mapping file whose [[osc]] aliases to accept (repeatable)")


def transport_config(args):
    """The transports of ``args`` as plain config objects."""
    from pathlib import Path

    from ..errors import OscError
    from ..show import MidiConfig, OscConfig, TransportConfig
    from ..show.transports import SurfaceSettings

    if not 0 <= args.osc_port <= 65535:
        raise OscError(f"--osc-port {args.osc_port}: a UDP port is 1-65535 (0 = no OSC input)")
    midi = MidiConfig(mappings=list(args.mapping), port=args.midi_port)
    if args.learn_file:
        midi.learn_file = Path(args.learn_file)
    if not 0 <= args.http_port <= 65535:
        raise OscError(f"--http-port {args.http_port}: a TCP port is 1-65535 (0 = no control page)")
    surface = SurfaceSettings(port=args.http_port or None, host=args.http_host, models_dir=args.models_dir,
                              announce=args.announce)
    return TransportConfig(osc=OscConfig(args.osc_host, args.osc_port, args.osc_feedback, list(args.osc_map)),
                           midi=midi, surface=surface, audio_in=args.audio_in, link=args.link,
                           autosave=args.autosave, record_controls=args.record_controls)


def _default_sinks(specs: list[str]) -> tuple[list[str], str | None]:
    """The outputs to open, and a note to print once the show is up when the default had to change."""
    from ..sinks.window import WindowSink

    if specs:
        return specs, None
    if WindowSink.why_not() is None:
        return ["window"], None
    return ["null"], (f"{WindowSink.why_not()}; rendering to the null output "
                      "(add --sink record:show.mp4, ndi:NAME, ...)")


def _setup_logging(args) -> logging.Handler | None:
    """Log to stderr, and to ``--log FILE`` when given (returns that handler, removed at exit)."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="netblend: %(levelname)s: %(message)s")
    if args.log:
        from logging.handlers import RotatingFileHandler

        from ..errors import NetblendError

        try:
            handler = RotatingFileHandler(args.log, maxBytes=10 * 2**20, backupCount=3, encoding="utf-8")
        except OSError as e:
            raise NetblendError(f"--log {args.log}: cannot write ({e.strerror or e})") from None
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(min(root.level, logging.INFO))
        return handler
    return None


def run(args) -> int:
    from ..core.paths import user_dir

    if args.watchdog is not None:
        from ..show.watchdog import supervise

        user_dir().mkdir(parents=True, exist_ok=True)
        return supervise(args.argv, args.watchdog, user_dir(f"heartbeat-{os.getpid()}"))
    handler = _setup_logging(args)
    try:
        return _run(args)
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _run(args) -> int:
    from pathlib import Path

    from ..core.paths import user_dir
    from ..show import ShowConfig, assemble, check_transports, start_transports
    from ..show.build import parse_size, warm_up
    from ..show.overlay_info import OverlaySource
    from ..show.presets import PresetFolders
    from ..sinks import check_sink_specs, make_sinks, output_failures
    from ..sinks.snapshot import SnapshotSink
    from . import frame_config

    config = ShowConfig(models=list(args.models), preset=args.preset, resume=args.resume,
                        presets_dir=args.presets, size=parse_size(args.size), fit=args.fit, device=args.device,
                        fps=args.fps, profile=args.profile, **frame_config(args))
    transports = transport_config(args)
    check_transports(transports)                  # bad input fails before the models load
    specs, note = _default_sinks(list(args.sink))
    check_sink_specs(specs)
    playlist = None
    if args.playlist:
        from ..show.playlist import read_playlist

        playlist = read_playlist(args.playlist, PresetFolders(args.presets))
    show = assemble(config)
    try:
        context = dict(fps=args.fps, registry=show.registry, on_close=show.loop.stop,
                       overlay_source=OverlaySource(show), kiosk=args.kiosk)
        sinks = make_sinks(specs, context)
        stills = next((s for s in sinks if isinstance(s, SnapshotSink)), None) or SnapshotSink(user_dir("snapshots"))
        for sink in sinks if stills in sinks else [*sinks, stills]:
            show.add_sink(sink)
        show.loop.triggers["engine.snapshot"] = lambda stamp: stills.request()
        if playlist is not None:
            from ..show.playlist import Playlist

            show.attach(Playlist(show, playlist))
        if args.heartbeat:
            from ..show.watchdog import Heartbeat

            show.attach(Heartbeat(show, Path(args.heartbeat)))
        warm_up(show.renderer, show.registry)
        lines = start_transports(show, transports)
    except BaseException:
        show.close()
        raise
    signal.signal(signal.SIGTERM, lambda *_: show.loop.stop())
    outputs = ", ".join(s.name for s in show.loop.sinks.sinks if s is not stills)
    from ..show.swap import describe

    print(f"netblend: playing {describe(show.model_paths)} on {show.device} at {show.renderer.width}x"
          f"{show.renderer.height} -> {outputs}{'' if args.fps is None else f' at {args.fps:g} fps'}; "
          "Ctrl-C stops", file=sys.stderr)
    for line in [*lines, *([note] if note else [])]:
        print(f"netblend: {line}", file=sys.stderr)
    try:
        stats = show.run(seconds=args.seconds)
    except KeyboardInterrupt:
        show.close()
        stats = show.loop.stats
    print(f"netblend: {stats.summary()}")
    if args.profile and stats.stages:
        print(f"netblend: per stage (median): {stats.stage_summary()}")
    for sink in show.loop.sinks.sinks:
        if sink.dropped:
            print(f"netblend: {sink.label} skipped {sink.dropped} frames it was too busy for", file=sys.stderr)
    failures = output_failures(show.loop.sinks.sinks, show.loop.sinks.dropped)
    for line in failures:
        print(f"netblend: error: output failed: {line}", file=sys.stderr)
    return 1 if failures else 0
