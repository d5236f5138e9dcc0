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

    from ..core.catalog import build_registry
    from ..core.show import build_renderer, load_models, resolve_device, warm_up

    device = resolve_device(args.device)
    t0 = time.perf_counter()
    models = load_models(args.models, device)
    t1 = time.perf_counter()
    renderer = build_renderer(models, device)
    registry = build_registry(renderer.blended)
    registry.set("latent.walk.mode", "slerp")
    steady = warm_up(renderer, registry, frames=max(args.frames, 2))
    threads = f", {torch.get_num_threads()} CPU threads" if device.type == "cpu" else ""
    print(f"ready on {device}: models loaded in {t1 - t0:.2f} s; {steady * 1000:.1f} ms per frame "
          f"({1 / steady:.1f} fps) at {renderer.width}x{renderer.height}{threads}")
    return 0
