"""Timing a show's frame for ``netblend bench``: eager, compiled and CUDA-graph frames side by side.

Every configuration is a real show (:func:`~engine.show.build.build_show`) over a random model and a
perturbed sibling, blended with a curve whose centre moves every frame (every synthesis layer's weights
rewritten: the worst case) and walking (slerp): the timed frame is exactly a live frame, blend included.
The modes of one configuration run interleaved, frame by frame, so a change in machine load hits each
alike. Per frame and mode: one frame profiled stage by stage (each stage synchronised: blend, mapping,
synthesis, convert for eager frames; blend, mapping, frame for compiled and graph frames, whose device
half is one program), the host readback, then the same frame again unprofiled for the frame time (the
device synchronised once, at the end). ``dtypes`` says in which dtype each synthesis layer really ran.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch

from ..core.clock import FakeClock
from .build import RenderSettings, build_show
from .frame import FrameOptions, FramePrograms, compile_problem, graph_problem, synchronize

MODES = ("eager", "compiled", "graph")
FAMILIES = ("sg2", "sg3t", "sg3r", "demo")
MOVING = {"latent.walk.mode": "slerp", "latent.walk.period": 2.0, "latent.psi": 0.7,
          "blend.curve.amount": 1.0, "blend.curve.width": 1.5, "blend.curve.center": 0.5}


def model_kwargs(family: str, resolution: int, quick: bool = False) -> dict:
    """Constructor kwargs: the official channel config of ``family`` at ``resolution`` (``quick``: tiny
    channels, for a smoke run)."""
    if family == "sg2":
        if quick:
            return dict(z_dim=64, w_dim=64, c_dim=0, img_resolution=resolution, img_channels=3,
                        mapping_kwargs={"num_layers": 2}, channel_base=1024, channel_max=64,
                        architecture="skip", conv_clamp=256)
        return dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=resolution, img_channels=3,
                    mapping_kwargs={"num_layers": 8}, channel_base=32768, channel_max=512, architecture="skip",
                    conv_clamp=256, num_fp16_res=4)
    from ..models.stylegan3 import stylegan3_kwargs

    config = {"sg3t": "T", "sg3r": "R"}[family]
    if quick:
        return stylegan3_kwargs(config, resolution, z_dim=64, w_dim=64, channel_base=1024, channel_max=64)
    return stylegan3_kwargs(config, resolution)


def bench_show(family: str, resolution: int, device: torch.device, precision: str = "fp32", quick: bool = False,
               impl: str | None = None):
    """A show over a random ``family`` model at ``resolution`` and a perturbed sibling (``demo``: the built-in
    pair, at its own 256 px), walking and blending with a moving curve; frames run eagerly until
    :func:`programs_for` says otherwise."""
    from ..blend.benchmark import sibling_state_dict
    from ..models.build import build_generator

    torch.manual_seed(0)
    if family == "demo":                                           # the built-in pair itself (256 px)
        from ..models.demo import demo_pair

        a, b = demo_pair(device)
    else:
        kwargs = model_kwargs(family, resolution, quick)
        a = build_generator(kwargs, device=device)
        b = build_generator(a.init_kwargs, sibling_state_dict(a, seed=1), device=device)
    settings = RenderSettings(impl=impl, precision=precision, frame=FrameOptions(compile="off", cuda_graph="off"))
    show = build_show([a, b], device, clock=FakeClock(fps=60), settings=settings)
    show.registry.update(MOVING, source=("bench", "moving"))
    show.registry.jump()
    return show


def layer_dtypes(renderer, values) -> dict[str, int]:
    """How many synthesis layers compute in each dtype on one eager frame of ``values``
    (``{"float16": 10, "float32": 7}``): the precision a row is labelled with, seen rather than assumed."""
    from ..models.bending import bendable_modules

    seen: dict[str, int] = {}

    def record(module, args, out) -> None:
        name = str(out.dtype).replace("torch.", "")
        seen[name] = seen.get(name, 0) + 1

    handles = [m.register_forward_hook(record) for m in bendable_modules(renderer.blended)]
    try:
        renderer.render_image(values, FakeClock(fps=60).tick())
    finally:
        for handle in handles:
            handle.remove()
    return seen


def programs_for(renderer, mode: str, backend: Any = "inductor") -> FramePrograms | str:
    """The frame programs of ``mode`` for ``renderer``, or the reason it cannot run here."""
    device = renderer.device
    if mode == "compiled" and compile_problem():
        return str(compile_problem())
    if mode == "graph" and graph_problem(device):
        return str(graph_problem(device))
    options = {"eager": FrameOptions(compile="off", cuda_graph="off"),
               "compiled": FrameOptions(compile="on", cuda_graph="off", backend=backend),
               "graph": FrameOptions(compile="on", cuda_graph="on", backend=backend)}[mode]
    return FramePrograms(renderer.draw, device, options)


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def bench_modes(show, modes: Sequence[str], frames: int, backend: Any = "inductor") -> dict[str, dict]:
    """Time ``frames`` frames of ``show`` per mode, interleaved; returns per mode ``frame_ms``, ``fps``,
    ``stages_ms`` (medians), ``prepare_s`` (compile and capture) or ``skipped`` (the reason)."""
    renderer, registry, device = show.renderer, show.registry, show.device
    clock = FakeClock(fps=60)
    results: dict[str, dict] = {}
    programs: dict[str, FramePrograms] = {}
    with torch.inference_mode():
        renderer.render(registry.targets(), clock.tick())          # eager first: kernels, caches
    for mode in modes:
        made = programs_for(renderer, mode, backend)
        if isinstance(made, str):
            results[mode] = {"skipped": made}
            continue
        renderer.programs = made
        start = time.perf_counter()
        with torch.inference_mode():
            lines = renderer.prepare_frames(registry.targets(), clock.tick())   # compile, capture
        if (mode == "compiled" and not made.ready) or (mode == "graph" and not made.graphs):
            results[mode] = {"skipped": "; ".join(lines) or f"no {mode} frame"}
            continue
        programs[mode] = made
        results[mode] = {"prepare_s": time.perf_counter() - start, "stages": {}, "totals": []}
    for n in range(frames + 1):                                     # frame 0 of each mode warms up
        for mode, made in programs.items():
            renderer.programs = made
            registry.set("blend.curve.center", 0.2 + 0.6 * ((n * 7) % 11) / 10, ("bench", "moving"))
            ft = clock.tick()
            values = registry.snapshot(ft.dt).values
            renderer.profile = True
            renderer.render(values, ft)
            stages = dict(renderer.times.seconds)
            t0 = time.perf_counter()
            renderer.readback()
            stages["readback"] = time.perf_counter() - t0
            renderer.profile = False
            t0 = time.perf_counter()
            renderer.render(values, ft)                             # the same frame, synchronised once
            synchronize(device)
            total = time.perf_counter() - t0
            if n == 0:
                continue
            row = results[mode]
            row["totals"].append(total)
            for stage, sec in stages.items():
                row["stages"].setdefault(stage, []).append(sec)
            row["ran"] = made.last_mode
    for mode, made in programs.items():
        renderer.programs = made
        results[mode]["control_ms"] = control_to_pixels_ms(show)
    for mode in programs:
        row = results[mode]
        frame_ms = _median(row.pop("totals")) * 1000
        stages = {k: _median(v) * 1000 for k, v in row.pop("stages").items()}
        row.update(frame_ms=frame_ms, fps=1000 / frame_ms if frame_ms else 0.0, stages_ms=stages,
                   blend_share=stages.get("blend", 0.0) / frame_ms if frame_ms else 0.0)
    renderer.programs = FramePrograms(renderer.draw, device, FrameOptions(compile="off", cuda_graph="off"))
    return results


def control_to_pixels_ms(show, frames: int = 5) -> float:
    """Median time from a registry write made just before a frame to the host pixels of that frame
    (the frame that shows it): snapshot, render, readback. A write that just misses a frame waits one
    frame period more."""
    from ..sinks.base import Frame

    samples = []
    for n in range(frames + 1):
        t0 = time.perf_counter()
        show.registry.set("blend.layer.0", 0.1 * (n % 5), ("bench", "control"))
        frame: Frame | None = show.loop.step()
        if frame is not None:
            frame.host()
        if n:
            samples.append(time.perf_counter() - t0)
    return _median(samples) * 1000
