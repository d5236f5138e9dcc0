"""Building a show: model files (or the demo pair) -> blended generator -> latents -> renderer -> Show.

Used by ``netblend run``, ``render``, ``bench`` and ``warmup``, and by hot swaps on the model-loader
thread. Nothing here runs per frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.clock import Clock, FakeClock
from ..errors import ModelLoadError, NetblendError
from .frame import FrameOptions, synchronize
from .render import Renderer

log = logging.getLogger("netblend")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; naming an absent device is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise NetblendError("--device cuda: no CUDA device here; use --device auto or cpu")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise NetblendError("--device mps: no Apple GPU here; use --device auto or cpu")
    if name not in ("cpu", "cuda", "mps") and not name.startswith("cuda:"):
        raise NetblendError(f"--device {name!r}: choose auto, cpu, cuda or mps")
    return torch.device(name)


def load_models(paths: Sequence[str | Path], device: torch.device) -> list:
    """Generators for ``paths`` (all on ``device``); the built-in demo pair when ``paths`` is empty.

    One model alone is blended with itself, so every blend control stays live (and does nothing
    until a second model is loaded). Each model must render one finite test frame on ``device``
    (a model that loads but cannot render never reaches a show), checked per model so a broken
    model B is caught even where the blend shows only model A."""
    if not paths:
        from ..models.demo import demo_pair

        return list(demo_pair(device))
    from ..models.checks import check_renders
    from ..models.loaders import load_generator

    models = [load_generator(p, device=device) for p in paths]
    for path, G in zip(paths, models):
        check_renders(G, device, name=str(path))
    return models if len(models) > 1 else models * 2


def use_ops(G, impl: str) -> None:
    """Make ``G`` (a generator or a BlendedGenerator) use the ``stylegan_ops`` implementation ``impl``."""
    G.impl = impl


PRECISIONS = ("auto", "fp32", "fp16")


def resolve_precision(name: str, device: torch.device) -> str:
    """The generator precision for ``--precision name`` on ``device``: ``auto`` is fp16 layers in half on
    CUDA and float32 elsewhere (MPS and the CPU run fp32); ``fp16`` anywhere but CUDA is an error."""
    if name not in PRECISIONS:
        raise NetblendError(f"--precision {name!r}: choose {', '.join(PRECISIONS)}")
    if name == "fp16" and device.type != "cuda":
        raise NetblendError(f"--precision fp16: half precision runs on CUDA only ({device.type} renders fp32); "
                            "use --precision auto or fp32")
    if name == "auto":
        return "fp16" if device.type == "cuda" else "fp32"
    return name


@dataclass(frozen=True)
class RenderSettings:
    """How a show's frames are computed (the same for the first models and every swap)."""

    impl: str | None = None                     # stylegan_ops implementation; None: the device's default
    precision: str = "auto"                     # auto | fp32 | fp16 (see resolve_precision)
    num_fp16_res: int | None = None             # fp16 layers: the N highest resolutions (None: the model's)
    frame: FrameOptions = field(default_factory=FrameOptions)   # compile / CUDA graph


def build_renderer(models: Sequence, device: torch.device, size: tuple[int, int] | None = None,
                   keyframes: Sequence | None = None, profile: bool = False, impl: str | None = None,
                   fit: str = "fit", settings: RenderSettings | None = None) -> Renderer:
    """A renderer over ``models`` (model A first) with its latent engine and network bender; layers use
    the ``impl`` ops (default: :func:`~engine.models.generator.default_impl` per op for the device),
    the ``settings``' precision, and run the device half of each frame as the settings say; the image
    is fitted into ``size`` per ``fit`` (fit, fill, stretch)."""
    from stylegan_ops.cpu_memory import retain_freed_memory

    from ..blend.generator import BlendedGenerator
    from ..latents.live import LatentEngine
    from ..models.bending import NetworkBender
    from ..models.generator import build_default_ops, default_impl

    settings = settings or RenderSettings(impl=impl)
    impl = impl or settings.impl
    if impl is None:
        for line in build_default_ops(device):          # the CUDA kernel, once per process
            log.warning(line)
    retain_freed_memory()  # per-frame CPU tensors reuse freed heap instead of page-faulting anew
    blended = BlendedGenerator(models)
    blended.impl = impl or default_impl(device)
    blended.precision = resolve_precision(settings.precision, device)
    if settings.num_fp16_res is not None:
        blended.num_fp16_res = settings.num_fp16_res
    latents = LatentEngine(blended, device, models=list(models))
    if keyframes:
        latents.set_keyframes(list(keyframes))
    return Renderer(blended, latents, size=size, profile=profile, fit=fit, bender=NetworkBender(blended),
                    frame=settings.frame)


def warm_up(renderer: Renderer, registry, tune_threads: bool = True, frames: int = 3,
            deterministic: bool = False) -> float:
    """Render a few frames off the show (kernels chosen, caches filled) before going live, reading the
    registry's targets without changing anything. On a CPU it also picks the thread count
    (:func:`choose_cpu_threads`); ``deterministic`` (offline renders) allows several threads only when
    they render exactly the pixels one thread renders, so a render is the same in every process (a
    frame compiled for the CPU keeps every thread: the compile cache holds code for one thread count,
    and warm-up and show must agree on it). Then the frame is compiled and captured where the
    renderer's frame options say so (:func:`prepare_frames`). Returns the steady frame time in seconds."""
    clock = FakeClock(fps=30)
    values = registry.targets()               # read only: warming up changes no state of the show

    def timed() -> float:
        best = float("inf")
        for _ in range(frames):
            ft = clock.tick()
            t0 = time.perf_counter()
            renderer.render(values, ft)
            synchronize(renderer.device)
            best = min(best, time.perf_counter() - t0)
        return best

    def pixels() -> torch.Tensor:
        from ..core.clock import FrameTime

        return renderer.render(values, FrameTime(0, 0.5, 0.0, 1.0, 120.0)).clone()

    timed()                                   # first frames: allocation, kernel selection
    steady = None
    # Compiled CPU code is built for one thread count (part of inductor's cache key): a choice made by
    # timing could differ between `netblend warmup` and the show, which would then compile again.
    compiled_cpu = renderer.device.type == "cpu" and (renderer.programs.compile or renderer.programs.graph)
    if tune_threads and renderer.device.type == "cpu" and not compiled_cpu:
        steady = choose_cpu_threads(timed, same_result=pixels if deterministic else None)
    if prepare_frames(renderer, values) or steady is None:
        steady = timed()
    return steady


def prepare_frames(renderer: Renderer, values) -> bool:
    """Compile (and capture, on CUDA) the frame ``values`` make, as the renderer's frame options say; each
    fallback is logged with its reason. Returns whether a compiled or captured frame is now ready."""
    from ..core.clock import FrameTime

    programs = renderer.programs
    for note in programs.notes:
        log.warning(note)
    programs.notes = []
    if not (programs.compile or programs.graph):
        return False
    start = time.perf_counter()
    renderer.prepare_frames(values, FrameTime(0, 0.0, 0.0, 0.0, 120.0))
    ready = bool(programs.ready or programs.graphs)
    if ready:
        log.info("frame %s ready in %.1f s", programs.mode, time.perf_counter() - start)
    return ready


def choose_cpu_threads(timed, same_result=None) -> float:
    """The one thread policy of every command that renders on a CPU (run, render, project, bench,
    warmup): time ``timed()`` (seconds per unit of work) with all threads and with one, keep the
    faster. With every core busy elsewhere (TouchDesigner, OBS, another render), synchronising
    threads can cost far more than they bring. With ``same_result()`` given, several threads are
    kept only when they give exactly what one thread gives (deterministic offline output).
    Returns the faster time."""
    many = torch.get_num_threads()
    best = timed()
    if many > 1:
        torch.set_num_threads(1)
        single = timed()
        reference = same_result() if same_result is not None else None
        torch.set_num_threads(many)
        differs = reference is not None and not torch.equal(reference, same_result())
        if single < best or differs:
            torch.set_num_threads(1)
            reason = "renders other pixels than one thread" if differs else "is slower"
            log.info("CPU: using one thread (%d threads %s: %.1f ms vs %.1f ms)", many, reason,
                     best * 1e3, single * 1e3)
            return single
    return best


def build_show(models: Sequence, device: torch.device, *, paths: Sequence[str | Path] = (),
               size: tuple[int, int] | None = None, clock: Clock | None = None, fps: float | None = None,
               presets_dir: str | Path | None = None, profile: bool = False, impl: str | None = None,
               fit: str = "fit", settings: RenderSettings | None = None):
    """A :class:`~engine.show.show.Show` over ``models`` (model A first), able to hot-swap models."""
    from .show import Show

    settings = settings or RenderSettings(impl=impl)
    renderer = build_renderer(models, device, size=size, profile=profile, fit=fit, settings=settings)
    return Show(renderer, device, clock=clock, fps=fps, model_paths=paths, presets_dir=presets_dir,
                build=swap_builder(settings, profile, fit))


def swap_builder(settings: RenderSettings | str | None = None, profile: bool = False, fit: str = "fit"):
    """The function a show's model loader calls: load ``paths``, build a renderer of ``size`` with
    ``keyframes``, and render one test frame with the show's current ``values``. A model that loads
    but cannot render (or renders NaN) raises here, so the swap is refused and the current models
    keep playing. Where the settings compile frames, the new renderer's frame is compiled here too,
    on the loader thread (never on a live frame)."""
    if not isinstance(settings, RenderSettings):
        settings = RenderSettings(impl=settings)

    def build(paths, device, size, keyframes, values) -> Renderer:
        renderer = build_renderer(load_models(paths, device), device, size=size,
                                  keyframes=list(keyframes) or None, profile=profile, fit=fit, settings=settings)
        check_renders(renderer, values, paths)
        prepare_frames(renderer, values)
        return renderer

    return build


def check_renders(renderer: Renderer, values, paths: Sequence[str | Path] = ()) -> None:
    """Render one frame off the show; raise :class:`ModelLoadError` naming the models when it fails
    or gives non-finite pixels."""
    from ..core.clock import FrameTime
    from .swap import describe

    try:
        img = renderer.render_image(values, FrameTime(0, 0.0, 0.0, 0.0, 120.0))
    except Exception as e:
        raise ModelLoadError(f"{describe(paths)} loaded but cannot render a frame ({e or type(e).__name__}); "
                             "check the model files") from None
    if not bool(torch.isfinite(img).all()):
        raise ModelLoadError(f"{describe(paths)} render non-finite pixels (NaN or inf weights?); "
                             "check the model files")


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``WxH`` -> ``(W, H)``; None keeps the model's resolution."""
    if not text:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise NetblendError(f"--size {text!r}: write it as WIDTHxHEIGHT, e.g. 1280x720") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise NetblendError(f"--size {text!r}: each side must be between 16 and 8192 pixels")
    return w, h
