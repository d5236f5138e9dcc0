"""`netblend warmup`: prepare a show before going live: convert the models into the fast cache,
move them to the device, render a few frames, and say how fast the first and the steady frames were.
"""

from __future__ import annotations

import time


def configure(parser) -> None:
    parser.add_argument("models", nargs="*", metavar="MODEL", help="model files (default: the demo pair)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--frames", type=int, default=5, help="frames to render (default 5)")


def run(args) -> int:
    import torch

    from ..show import ShowConfig, assemble
    from ..show.build import warm_up

    t0 = time.perf_counter()
    show = assemble(ShowConfig(models=list(args.models), device=args.device))
    t1 = time.perf_counter()
    try:
        show.registry.set("latent.walk.mode", "slerp")
        steady = warm_up(show.renderer, show.registry, frames=max(args.frames, 2))
    finally:
        show.close()
    threads = f", {torch.get_num_threads()} CPU threads" if show.device.type == "cpu" else ""
    print(f"ready on {show.device}: models loaded in {t1 - t0:.2f} s; {steady * 1000:.1f} ms per frame "
          f"({1 / steady:.1f} fps) at {show.renderer.width}x{show.renderer.height}{threads}")
    return 0
