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
    parser.add_argument("--seconds", type=float, required=True, metavar="S", help="length of the video")
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


def run(args) -> int:
    from ..core.catalog import build_registry
    from ..core.clock import FakeClock
    from ..core.control_log import ControlReplay, read_control_log
    from ..core.loop import RenderLoop, SinkSet
    from ..core.show import build_renderer, load_models, parse_size, resolve_device
    from ..errors import NetblendError
    from ..sinks.record import RecordSink

    if args.seconds <= 0 or args.fps <= 0:
        raise NetblendError("--seconds and --fps must be positive")
    device = resolve_device(args.device)
    events = read_control_log(args.controls) if args.controls else []
    preset = None
    if args.preset:
        from ..live import find_preset

        preset = find_preset(args.preset, args.presets)
    paths = args.models or (list(preset.models.values()) if preset is not None else [])
    keyframes = preset.keyframes if preset is not None else None
    renderer = build_renderer(load_models(paths, device), device, size=parse_size(args.size), keyframes=keyframes)
    registry = build_registry(renderer.blended)
    if preset is not None:
        from ..control.presets import PresetManager

        PresetManager(args.presets or ".", registry).apply(preset)
    elif not paths:
        from ..models.demo import DEMO_SHOW

        registry.update(DEMO_SHOW, source="demo")
        registry.jump()
    replay = ControlReplay(registry, events)
    total = round(args.seconds * args.fps)
    clock = FakeClock(fps=args.fps)
    sink = RecordSink(args.output, fps=args.fps, block=True)
    sink.open(renderer.width, renderer.height)        # a bad file name or size fails here, before any frame
    loop = RenderLoop(registry, renderer, SinkSet([sink]), clock=clock)
    progress = ProgressBar(total, enabled=not args.quiet)
    try:
        for n in range(total):
            replay(n / args.fps)
            loop.step()
            progress(n + 1)
    finally:
        loop.sinks.close()
    if loop.sinks.dropped:
        raise NetblendError(f"writing {args.output} failed: {loop.sinks.dropped[0][1]}")
    if replay.skipped:
        print(f"note: the control log names parameters this show lacks: {', '.join(sorted(replay.skipped))}",
              file=sys.stderr)
    print(f"wrote {args.output}: {total} frames at {args.fps:g} fps ({renderer.width}x{renderer.height})")
    return 0
