"""`netblend warmup`: prepare a show before going live: convert the models into the fast cache, move
them to the device, build the kernels it needs, compile its frame into the on-disk compile cache
(``--compile``, so the show itself starts without compiling), render a few frames, and say how fast
the first and the steady frames were.

Warm up with the options and the preset the show will use: a compiled frame is one program per walk
mode, noise mode and set of bending ops, and the cache holds what was compiled here.
"""

from __future__ import annotations

import time


def configure(parser) -> None:
    from . import add_show_arguments

    add_show_arguments(parser)
    parser.add_argument("--frames", type=int, default=5, help="frames to render (default 5)")


def compile_cache_counts() -> tuple[int, int]:
    """``(hits, misses)`` of inductor's on-disk FX-graph cache in this process so far."""
    from torch._dynamo.utils import counters

    return int(counters["inductor"]["fxgraph_cache_hit"]), int(counters["inductor"]["fxgraph_cache_miss"])


def run(args) -> int:
    import torch

    from ..show import ShowConfig, assemble
    from ..show.build import parse_size, warm_up
    from ..show.frame import use_compile_cache
    from . import frame_config

    t0 = time.perf_counter()
    show = assemble(ShowConfig(models=list(args.models), preset=args.preset, presets_dir=args.presets,
                               size=parse_size(args.size), device=args.device, **frame_config(args)))
    t1 = time.perf_counter()
    try:
        steady = warm_up(show.renderer, show.registry, frames=max(args.frames, 2))
        programs = show.renderer.programs
    finally:
        show.close()
    t2 = time.perf_counter()
    threads = f", {torch.get_num_threads()} CPU threads" if show.device.type == "cpu" else ""
    print(f"ready on {show.device}: models loaded in {t1 - t0:.2f} s, warmed up in {t2 - t1:.1f} s; "
          f"{steady * 1000:.1f} ms per frame ({1 / steady:.1f} fps) at {show.renderer.width}x"
          f"{show.renderer.height}{threads}")
    if programs.compile or programs.graph:
        hits, misses = compile_cache_counts()
        ready = len(programs.graphs) if programs.graph else len(programs.ready)
        state = f"{ready} {programs.mode} frame(s) ready" if ready else "no compiled frame (see the warnings above)"
        print(f"{state}; compile cache {use_compile_cache()}: {hits} graphs reused, {misses} compiled now")
    return 0
