"""`netblend render`: an offline, deterministic render of a preset or a recorded control log to video.

The same command twice gives identical frames: time comes from a fake clock at exactly ``--fps``,
the random walk and the noise are seeded, and a control log is replayed at the times it was played.
"""

from __future__ import annotations

import sys
import time


def configure(parser) -> None:
    from . import add_show_arguments

    add_show_arguments(parser)
    parser.add_argument("--controls", metavar="LOG", help="replay a log from `netblend run --record-controls`")
    parser.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="length of the video (default with --audio: the track's length)")
    parser.add_argument("--audio", metavar="TRACK",
                        help="an audio file (wav, mp3, flac): analysed at exactly --fps for audio.* (so [[mod]] "
                             "routes react to it) and muxed into the video")
    parser.add_argument("--fps", type=float, default=30.0, metavar="N", help="frames per second (default 30)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT", help="video file (.mp4, .mov, .mkv)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class ProgressBar:
    """``[#########.........]  45/90 frames  3.1 fps  eta 14 s`` on stderr, redrawn in place."""

    def __init__(self, total: int, enabled: bool = True, width: int = 30):
        self.total, self.enabled, self.width = total, enabled, width
        self.start = time.perf_counter()

    def __call__(self, done: int) -> None:
        if not self.enabled:
            return
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else 0.0
        fill = int(self.width * done / max(self.total, 1))
        bar = "#" * fill + "." * (self.width - fill)
        end = "\n" if done >= self.total else ""
        sys.stderr.write(f"\r[{bar}] {done:>5}/{self.total} frames  {rate:5.1f} fps  eta {eta:4.0f} s{end}")
        sys.stderr.flush()


class TrackFeatures:
    """A show part: before frame k, the audio track's features for frame k become the ``audio.*`` values."""

    def __init__(self, registry, track):
        self.registry, self.track = registry, track

    def before_frame(self, ft) -> None:
        if ft.frame < len(self.track):
            self.track.write(self.registry, ft.frame)


def build_render_show(args):
    """The show ``netblend render`` plays: the same Show as ``run``, on a fake clock at ``--fps``, with
    the control log (if any) replayed as a frame hook. Returns ``(show, replay, total_frames)``."""
    from pathlib import Path

    from ..core.clock import FakeClock
    from ..errors import NetblendError
    from ..show import ShowConfig, assemble
    from ..show.build import parse_size, warm_up
    from ..show.control_log import ControlReplay, initial_state, read_control_log
    from . import frame_config

    track = None
    if getattr(args, "audio", None):
        from ..control.audio import analyse_file

        track = analyse_file(args.audio, args.fps)      # a bad file fails here, before any model loads
        if args.seconds is None:
            args.seconds = track.seconds
    if args.seconds is None:
        raise NetblendError("--seconds S is needed (or --audio TRACK, whose length is then used)")
    if args.seconds <= 0 or args.fps <= 0:
        raise NetblendError("--seconds and --fps must be positive")
    events = read_control_log(args.controls) if args.controls else []
    start = initial_state(events)
    models = list(args.models) or [str(p) for p in start.get("models", [])]
    config = ShowConfig(models=models, preset=args.preset, presets_dir=args.presets, size=parse_size(args.size),
                        fit=getattr(args, "fit", "fit"), device=args.device, fps=args.fps,
                        clock=FakeClock(fps=args.fps),
                        initial=dict(start.get("params", {})), **frame_config(args))
    show = assemble(config)
    try:
        if start.get("keyframes"):
            from ..show.preset_file import Preset

            keyframes = [k if isinstance(k, int) else Path(k) for k in start["keyframes"]]
            show.apply_now(Preset("log", {}, keyframes=keyframes))
        warm_up(show.renderer, show.registry, deterministic=True)   # one thread policy; same frames in every process
        show.replaying = True
        replay = show.attach(ControlReplay(show, events))
        if track is not None:
            show.attach(TrackFeatures(show.registry, track))
    except BaseException:
        show.close()
        raise
    return show, replay, round(args.seconds * args.fps)


def run(args) -> int:
    from ..errors import NetblendError
    from ..sinks import output_failures
    from ..sinks.record import RecordSink

    sink = RecordSink(args.output, fps=args.fps, block=True)
    sink.check()                                       # a bad file name or container fails before any model loads
    show, replay, total = build_render_show(args)
    show.add_sink(sink)
    progress = ProgressBar(total, enabled=not args.quiet)
    sinks = show.loop.sinks

    def after_frame(frame, ft) -> None:
        progress(ft.frame + 1)
        if sink not in sinks.sinks:                    # the recording failed: no point rendering on
            show.loop.stop()

    show.loop.hooks.after_frame.append(after_frame)
    show.run(frames=total)
    failures = output_failures([sink], sinks.dropped)
    if failures:
        if not args.quiet:
            sys.stderr.write("\n")
        raise NetblendError(failures[0])
    if args.audio:
        from ..control.audio import mux_audio

        mux_audio(args.output, args.audio)
    if replay.skipped:
        print(f"note: the control log names parameters this show lacks: {', '.join(sorted(replay.skipped))}",
              file=sys.stderr)
    print(f"wrote {args.output}: {total} frames at {args.fps:g} fps ({show.renderer.width}x{show.renderer.height})")
    return 0
