"""`netblend run`: the live engine. With no model it plays the built-in demo pair.

Start-up problems (a missing model, a busy OSC port, a bad mapping file) are one-line errors with
the fix. Once the show runs nothing stops it but Ctrl-C, closing the window, SIGTERM or
``--seconds``; then one summary line is printed.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path


def configure(parser) -> None:
    from ..control.osc_server import add_osc_arguments
    from . import add_show_arguments

    add_show_arguments(parser)
    parser.add_argument("--resume", action="store_true", help="restore the state autosaved by the last run")
    parser.add_argument("--mapping", metavar="F", action="append", default=[],
                        help="controller mapping file (mappings/*.toml); repeatable")
    parser.add_argument("--sink", metavar="SPEC", action="append", default=[],
                        help="output: window, null, record:FILE.mp4, snapshot:DIR, ndi:NAME, spout:NAME, "
                             "syphon:NAME, vcam (repeatable; default: window, or null without a display)")
    parser.add_argument("--fps", type=float, default=None, help="target frame rate (default: as fast as possible)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--midi-port", metavar="REGEX", help="MIDI input ports to open (name regex)")
    parser.add_argument("--learn-file", metavar="F", default="learned.toml",
                        help="where /midi/learn writes bindings (default learned.toml; load it with --mapping)")
    parser.add_argument("--record-controls", metavar="LOG", help="log every control change for `netblend render`")
    parser.add_argument("--autosave", type=float, default=30.0, metavar="S",
                        help="autosave the live state every S seconds (0 = off; default 30)")
    parser.add_argument("--link", action="store_true", help="join an Ableton Link session (tempo) on the LAN")
    parser.add_argument("--profile", action="store_true",
                        help="time each stage (blend, mapping, synthesis, convert, sinks) and print medians at exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    add_osc_arguments(parser)


def _sinks(args, context: dict) -> list:
    from ..errors import NetblendError
    from ..sinks import parse_sink, sink_class
    from ..sinks.window import WindowSink

    specs = list(args.sink)
    if not specs:
        if WindowSink.why_not() is None:
            specs = ["window"]
        else:
            print(f"netblend: {WindowSink.why_not()}; rendering to the null output "
                  "(add --sink record:show.mp4, ndi:NAME, ...)", file=sys.stderr)
            specs = ["null"]
    sinks = []
    for text in specs:
        spec = parse_sink(text)
        cls = sink_class(spec.name)
        reason = cls.why_not()
        if reason is not None:
            raise NetblendError(f"--sink {text}: {reason}")
        sinks.append(cls.from_spec(spec.arg, spec.options, **context))
    return sinks


def _start_midi(args, show) -> None:
    """Open the controllers of the mapping files (and learn mode) for ``show``."""
    from ..control.live_midi import LiveMidi
    from ..control.mapping import load_mapping
    from ..control.midi_ports import MidiUnavailable

    midi_maps = [m for m in (load_mapping(p) for p in args.mapping) if m.midi]
    if not midi_maps and not args.midi_port:
        return
    for problem in (p for m in midi_maps for p in m.unknown_params(show.registry)):
        logging.getLogger("netblend").warning("%s (skipped)", problem)
    midi = LiveMidi(show.registry, show.actions, tempo=show.tempo,
                    learn_file=getattr(args, "learn_file", None) or "learned.toml")
    try:
        lines = midi.open(midi_maps, args.midi_port)
    except MidiUnavailable as e:
        midi.close()
        print(f"netblend: {e}; the show runs without MIDI", file=sys.stderr)
        return
    show.midi = midi
    show.closers.append(midi.close)
    for line in lines:
        print(f"netblend: {line}", file=sys.stderr)


def run(args) -> int:
    from ..control.osc_server import start_osc
    from ..control.presets import Autosaver
    from ..core.control_log import ControlRecorder
    from ..core.show import build_renderer, load_models, parse_size, resolve_device, warm_up
    from ..errors import NetblendError
    from ..live import LiveShow
    from ..sinks.snapshot import SnapshotSink

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="netblend: %(levelname)s: %(message)s")
    device = resolve_device(args.device)
    size = parse_size(args.size)
    from ..control.mapping import load_mapping
    from ..sinks import parse_sink

    for path in args.mapping:                 # bad input fails before the models load
        if not Path(path).is_file():
            raise NetblendError(f"--mapping {path}: no such file; the shipped ones are in mappings/")
        load_mapping(path)
    for text in args.sink:
        parse_sink(text)
    renderer = build_renderer(load_models(args.models, device), device, size=size, profile=args.profile)
    context: dict = {"fps": args.fps or 30.0}
    show = LiveShow(renderer, [], device, model_paths=args.models, fps=args.fps,
                    presets_dir=args.presets)
    context.update(registry=show.registry, on_close=show.loop.stop,
                   mask_source=lambda: list(show.renderer.blend_state.layers) if show.renderer.blend_state else [],
                   fps_source=lambda: show.loop.stats.recent_fps)
    try:
        sinks = _sinks(args, context)
        stills = next((s for s in sinks if isinstance(s, SnapshotSink)), None) or SnapshotSink("snapshots")
        show.loop.sinks.sinks.extend(sinks if stills in sinks else [*sinks, stills])
        show.loop.triggers["engine.snapshot"] = stills.request
        if not args.models and not args.preset and not args.resume:
            from ..models.demo import DEMO_SHOW

            show.registry.update(DEMO_SHOW, source="demo")
            show.registry.jump()
        if args.resume and show.presets.restore() is None:
            print("netblend: nothing to resume yet (no autosave); starting fresh", file=sys.stderr)
        if args.preset:
            show.recall(args.preset)
        osc = start_osc(args, show.registry, show.actions, frame_rate=args.fps or 60.0,
                        fps_source=lambda: show.loop.stats.recent_fps)
        show.closers.append(osc.stop)
        if osc.server is not None:
            host, port = osc.server.address
            print(f"netblend: OSC on {host}:{port} (`netblend osc` lists the addresses)", file=sys.stderr)
        _start_midi(args, show)
        if args.link:
            show.tempo.start_link()
        if args.autosave > 0:
            autosaver = Autosaver(show.presets, interval=args.autosave).start()
            show.closers.append(autosaver.stop)
        if args.record_controls:
            recorder = ControlRecorder(show.registry, args.record_controls)
            show.add_frame_hook(recorder)
            show.closers.append(recorder.close)
        warm_up(show.renderer, show.registry)
    except BaseException:
        show.close()
        raise
    signal.signal(signal.SIGTERM, lambda *_: show.loop.stop())
    playing = ", ".join(Path(p).name for p in args.models) or "the built-in demo pair"
    outputs = ", ".join(s.name for s in show.loop.sinks.sinks if not isinstance(s, SnapshotSink))
    print(f"netblend: playing {playing} on {device} at {show.renderer.width}x{show.renderer.height} -> {outputs}"
          f"{'' if args.fps is None else f' at {args.fps:g} fps'}; Ctrl-C stops", file=sys.stderr)
    try:
        stats = show.run(seconds=args.seconds)
    except KeyboardInterrupt:
        stats = show.loop.stats
    print(f"netblend: {stats.summary()}")
    if args.profile and stats.stages:
        print(f"netblend: per stage (median): {stats.stage_summary()}")
    return 0
