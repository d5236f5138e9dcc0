"""`netblend audio`: list audio inputs (for `netblend run --audio-in DEVICE`); `--meter DEVICE` shows
its features live, to set gains and gates; `--analyse TRACK` summarises what a render would react to."""

from __future__ import annotations

import time


def configure(parser) -> None:
    parser.add_argument("--meter", metavar="DEVICE", default=None,
                        help="show the features of this input live (name fragment, index or 'default')")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long --meter runs (default: %(default)s)")
    parser.add_argument("--analyse", metavar="TRACK", default=None,
                        help="analyse an audio file as `netblend render --audio` would and summarise it")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate for --analyse (default: %(default)s)")
    parser.epilog = "Features: audio.level, audio.low, audio.mid, audio.high, audio.onset, audio.beat, audio.bpm"


def run(args) -> int:
    if args.analyse:
        return _analyse(args.analyse, args.fps)
    if args.meter:
        return _meter(args.meter, args.seconds)
    return _list()


def _list() -> int:
    from ..control.audio.live import input_devices

    devices = input_devices()
    if not devices:
        print("audio inputs: none (connect an interface, or start JACK, then run this again)")
        return 0
    print("audio inputs (use with `netblend run --audio-in NAME`, a fragment of the name is enough):")
    for d in devices:
        mark = "*" if d.default else " "
        print(f" {mark}{d.index:>3}  {d.name}  [{d.hostapi}, {d.inputs} in, {d.sample_rate:g} Hz]")
    print("  (* = default input)")
    return 0


def _meter(device: str, seconds: float) -> int:
    from ..control.audio import params, start_audio
    from ..core.params import ParamRegistry

    registry = ParamRegistry()
    registry.add_all(params())
    names = ("level", "low", "mid", "high", "onset", "beat", "bpm")
    with start_audio(registry, device) as audio:
        print(f"{audio.name}: " + "  ".join(f"{n:>6}" for n in names))
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                time.sleep(0.1)
                row = "  ".join(f"{registry.get('audio.' + n):6.3f}" if n != "bpm"
                                else f"{registry.get('audio.bpm'):6.1f}" for n in names)
                print(f"{'':>{len(audio.name)}}  {row}", flush=True)
        except KeyboardInterrupt:
            pass
    return 0


def _analyse(path: str, fps: float) -> int:
    from ..control.audio import FEATURES, analyse_file

    track = analyse_file(path, fps)
    v = track.values
    onsets = int(((v[1:, FEATURES.index("onset")] == 1.0)).sum())
    beats = int(((v[1:, FEATURES.index("beat")] == 1.0)).sum())
    bpm = float(v[-1, FEATURES.index("bpm")]) if len(track) else 0.0
    print(f"{path}: {track.seconds:.2f} s, {len(track)} frames at {fps:g} fps")
    for name in ("level", "low", "mid", "high"):
        col = v[:, FEATURES.index(name)]
        print(f"  audio.{name:<5}  mean {col.mean():.3f}  max {col.max():.3f}")
    print(f"  onsets {onsets}, beats {beats}, tempo {bpm:.1f} BPM" if bpm else f"  onsets {onsets}, no steady tempo")
    return 0
