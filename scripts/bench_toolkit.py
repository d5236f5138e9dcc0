"""Cost per frame of latent directions and channel-wise blending on the demo, off vs on, side by side.

    .venv/bin/python scripts/bench_toolkit.py [--frames 20] [--rounds 5] [--device cpu] [--threads 1]

Every configuration renders the built-in demo pair exactly like ``netblend run`` (demo show values,
a slerp walk, blend + latents + synthesis + uint8 conversion), interleaved round by round so machine
noise hits them alike; the table gives the median frame time per configuration and its ratio to the
baseline of its group. The blend configurations move ``blend.layer.3`` every frame (a fader in
motion: every frame rewrites weights), the worst case for channel blending.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from engine.core.clock import FakeClock
from engine.latents.live import LatentEngine
from engine.models.demo import DEMO_SHOW, demo_pair
from engine.show.build import build_renderer
from engine.show.catalog import build_registry


def configurations() -> dict[str, tuple[str, dict[str, object], bool]]:
    """name -> (group, values on top of the demo show, engine without directions)."""
    dirs = {f"latent.dir.{k}": 0.5 * (-1) ** k for k in range(8)}
    return {
        "no directions (engine built without)": ("directions", {}, True),
        "directions off (amounts 0)": ("directions", {}, False),
        "directions on (8 amounts, rows 0-end)": ("directions", dirs, False),
        "blend moving, channels off (fraction 1)": ("moving", {"moving": True}, False),
        "blend moving, channels on (fraction 0.5)": ("moving", {"moving": True, "blend.channel.fraction": 0.5},
                                                     False),
        "blend static, channels off (fraction 1)": ("static", {}, False),
        "blend static, channels on (fraction 0.5)": ("static", {"blend.channel.fraction": 0.5}, False),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20, help="timed frames per configuration and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = leave)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    models = list(demo_pair(device))
    shows = {}
    for name, (_, extra, bare) in configurations().items():
        renderer = build_renderer(models, device)
        if bare:
            renderer.latents = LatentEngine(renderer.blended, device, directions=None)
        registry = build_registry(renderer.blended)
        registry.update({**DEMO_SHOW, **{k: v for k, v in extra.items() if k != "moving"}})
        registry.jump()
        shows[name] = (renderer, registry, FakeClock(fps=30), bool(extra.get("moving")))
    times: dict[str, list[float]] = {name: [] for name in shows}

    def frame(name: str) -> float:
        renderer, registry, clock, moving = shows[name]
        ft = clock.tick()
        if moving:
            registry.set("blend.layer.3", 0.5 + 0.4 * ((ft.frame % 20) / 20.0))
            registry.jump()
        values = registry.snapshot(ft.dt).values
        start = time.perf_counter()
        renderer.render(values, ft)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - start

    for name in shows:                                   # warm-up: caches, allocations, first uploads
        for _ in range(3):
            frame(name)
    for _ in range(args.rounds * args.frames):          # interleaved frame by frame
        for name in shows:
            times[name].append(frame(name))
    print(f"demo pair on {device}, {torch.get_num_threads()} thread(s), {args.rounds} x {args.frames} frames each")
    print(f"{'whole frame':48s} {'median ms':>10s} {'vs group base':>14s}")
    base: dict[str, float] = {}
    for name, (group, _, _) in configurations().items():
        median = statistics.median(times[name]) * 1e3
        ratio = median / base.setdefault(group, median)
        print(f"{name:48s} {median:10.2f} {100 * (ratio - 1):+13.1f}%")
    frame_ms = statistics.median(times["directions off (amounts 0)"]) * 1e3
    print(f"\n{'the part itself':48s} {'median ms':>10s} {'of a frame':>14s}")
    for name, seconds in parts(shows, args.rounds * args.frames).items():
        print(f"{name:48s} {seconds * 1e3:10.3f} {100 * seconds * 1e3 / frame_ms:13.2f}%")
    return 0


def parts(shows, count: int) -> dict[str, float]:
    """Median time of the latents (``ws``) and of the blend write alone, per configuration."""
    from engine.blend.masks import compose

    out = {}
    for name in ("no directions (engine built without)", "directions off (amounts 0)",
                 "directions on (8 amounts, rows 0-end)"):
        renderer, registry, clock, _ = shows[name]
        samples = []
        for _ in range(count):
            ft = clock.tick()
            values = registry.snapshot(ft.dt).values
            start = time.perf_counter()
            renderer.latents.ws(values, ft)
            samples.append(time.perf_counter() - start)
        out[f"latents: {name}"] = statistics.median(samples)
    for name in ("blend moving, channels off (fraction 1)", "blend moving, channels on (fraction 0.5)"):
        renderer, registry, clock, _ = shows[name]
        samples = []
        for i in range(count):
            registry.set("blend.layer.3", 0.5 + 0.4 * ((i % 20) / 20.0))
            registry.jump()
            state = compose(registry.snapshot(0.0).values, len(renderer.blended.layers))
            start = time.perf_counter()
            renderer.blended.apply(state)
            samples.append(time.perf_counter() - start)
        out[f"blend write: {name.split(', ')[1]}"] = statistics.median(samples)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
