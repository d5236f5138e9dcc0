"""One frame: snapshot values -> blended weights -> latents -> image -> uint8 RGBA, on the device.

:class:`Renderer` owns the models of a show (a :class:`~engine.blend.generator.BlendedGenerator` and
its :class:`~engine.latents.live.LatentEngine`) and the preallocated output buffer. ``render`` is a
function of the frozen snapshot and the frame time: it reads them and never writes a control.
The image is fitted into the output size (``fit``: letterbox, ``fill``: crop, ``stretch``; see
:mod:`engine.show.fit`) and converted to uint8 RGBA on the device, into buffers made once.

A frame has two halves. The host half (:meth:`Renderer.prepare`) composes the blend and writes the
changed weights, prepares the latents and the bending amounts: every per-frame number reaches the
device through non-blocking copies into tensors of fixed address. The device half (:meth:`Renderer.draw`:
latents, synthesis with network bending, fit and RGBA conversion) reads only those tensors and a small
:class:`~engine.show.frame.FrameKey`, so it makes no host sync, traces to one graph that changing values
never recompile, and runs eagerly, compiled or as a replayed CUDA graph (:mod:`engine.show.frame`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from ..blend.masks import BlendState, compose
from ..core.clock import FrameTime
from ..sinks.delivery import pinned_empty
from .fit import FrameFit
from .frame import FrameKey, FrameOptions, FramePrograms, synchronize

STAGES = ("blend", "mapping", "synthesis", "convert")   # eager; compiled and graph frames: blend, mapping, frame


@dataclass
class StageTimes:
    """Seconds per stage of the last frame; filled only when profiling (it synchronises the device)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt


def image_to_rgba(img: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """float [1, 3, H, W] in about [-1, 1] -> uint8 [H, W, 4] RGBA written into ``out`` (alpha 255)."""
    rgb = img[0].permute(1, 2, 0)                                   # [H, W, 3] view
    out[:, :, :3].copy_(rgb.mul(127.5).add_(128.0).clamp_(0.0, 255.0))  # copy_ rounds toward zero
    return out


class HostReadback:
    """The frame copied to pinned host memory asynchronously on a CUDA device, so a sink that needs host
    pixels waits for that copy only. The copy and its event go on the current stream of the frame's
    own device (``--device cuda:1`` included), never on whichever device happens to be current."""

    def __init__(self, device: torch.device, shape: tuple[int, ...]):
        self.device = device
        with torch.cuda.device(device):
            self.host = pinned_empty(shape)
            self.copied = torch.cuda.Event()

    def start(self, pixels: torch.Tensor) -> None:
        """Queue the copy of ``pixels`` (after the kernels that drew them, on their stream)."""
        self.host.copy_(pixels, non_blocking=True)
        self.copied.record(torch.cuda.current_stream(self.device))

    def wait(self) -> torch.Tensor:
        """The host pixels once the copy is done."""
        self.copied.synchronize()
        return self.host


class Renderer:
    """Renders frames from a snapshot for one set of models, on one device."""

    def __init__(self, blended, latents, size: tuple[int, int] | None = None, profile: bool = False,
                 fit: str = "fit", bender=None, frame: FrameOptions | None = None):
        self.blended = blended
        self.latents = latents
        self.bender = bender                         # NetworkBender: bend.<layer>.<op> (None: no bending)
        self.device = blended.device
        res = blended.img_resolution
        width, height = size or (int(res), int(res))
        self.width: int = width
        self.height: int = height
        self.profile = profile
        self.times = StageTimes()
        self.blend_state: BlendState | None = None   # the last frame's blend (overlay bars)
        self._rgba = torch.full((self.height, self.width, 4), 255, dtype=torch.uint8, device=self.device)
        self.fit = FrameFit((int(res), int(res)), self._rgba, fit)
        # On a GPU the frame is copied to pinned host memory asynchronously as soon as it is converted;
        # a sink that needs host pixels waits only for that copy (``readback``), never for the device.
        self._readback = HostReadback(self.device, tuple(self._rgba.shape)) if self.device.type == "cuda" else None
        self.programs = FramePrograms(self.draw, self.device, frame)

    def close(self) -> None:
        """Stop what the renderer's parts run in the background (the blend's direction worker)."""
        close = getattr(self.latents, "close", None)
        if callable(close):
            close()

    @property
    def num_layers(self) -> int:
        return len(self.blended.layers)

    def _mark(self, stage: str, t0: float) -> float:
        if not self.profile:
            return t0
        synchronize(self.device)
        t1 = time.perf_counter()
        self.times.add(stage, t1 - t0)
        return t1

    # ------------------------------------------------------------------ host half
    def prepare(self, values: Mapping[str, float], ft: FrameTime) -> tuple[FrameKey, tuple]:
        """Host half of a frame: the blend write, the latents' scalars and the bending amounts sent to the
        device (no host wait). Returns the frame's key and the arguments of :meth:`draw`."""
        t0 = time.perf_counter()
        self.blend_state = compose(values, self.num_layers, num_models=self.blended.num_models)
        self.blended.apply(self.blend_state)
        t0 = self._mark("blend", t0)
        plan = self.latents.prepare(values, ft)
        if self.bender is not None:
            self.bender.update(values)
        noise_mode = self.latents.noise_mode
        self._mark("mapping", t0)
        return self.key(plan, noise_mode), (plan, noise_mode)

    def key(self, plan: tuple[str, bool], noise_mode: str) -> FrameKey:
        """The :class:`FrameKey` of a frame with this walk ``plan`` and ``noise_mode``."""
        G = self.blended
        return FrameKey(walk=plan[0], in_z=plan[1], noise_mode=noise_mode,
                        bending=self.bender.signature if self.bender is not None else (),
                        impl=G.impl, precision=G.precision, num_fp16_res=G.num_fp16_res,
                        table=self.latents.table.layout)

    # ------------------------------------------------------------------ device half
    def draw(self, plan: tuple[str, bool], noise_mode: str) -> None:
        """Device half of a frame: latents, synthesis (bent), RGBA into the frame buffer. Reads only device
        tensors; what :class:`~engine.show.frame.FramePrograms` compiles and captures."""
        self.convert(self.synthesize(plan, noise_mode))

    def synthesize(self, plan: tuple[str, bool], noise_mode: str) -> torch.Tensor:
        """The prepared frame's float image ``[1, 3, R, R]``."""
        ws = self.latents.compute(plan)                                       # [1, num_ws, w_dim]
        return self.blended.synthesis(ws, noise_mode=noise_mode, **self.latents.device_kwargs())

    def convert(self, img: torch.Tensor) -> None:
        """The float image fitted into the uint8 RGBA frame buffer (:class:`~engine.show.fit.FrameFit`)."""
        self.fit(img)

    # ------------------------------------------------------------------ a whole frame
    @torch.inference_mode()
    def render_image(self, values: Mapping[str, float], ft: FrameTime) -> torch.Tensor:
        """The frame as the model's float image ``[1, 3, R, R]`` (blend, latents, synthesis), eagerly."""
        self.times = StageTimes()
        _, (plan, noise_mode) = self.prepare(values, ft)
        return self.synthesize(plan, noise_mode)

    @torch.inference_mode()
    def render(self, values: Mapping[str, float], ft: FrameTime) -> torch.Tensor:
        """Render one frame; returns the uint8 RGBA buffer ``[H, W, 4]`` (reused every frame)."""
        self.times = StageTimes()
        key, args = self.prepare(values, ft)
        t0 = time.perf_counter()
        if self.profile and self.programs.mode_for(key) == "eager":
            plan, noise_mode = args                     # stage by stage, each synchronised
            ws = self.latents.compute(plan)
            t0 = self._mark("mapping", t0)
            img = self.blended.synthesis(ws, noise_mode=noise_mode, **self.latents.device_kwargs())
            t0 = self._mark("synthesis", t0)
            self.convert(img)
            self.programs.last_mode = "eager"
            stage = "convert"
        else:
            stage = "frame"                             # one program: latents + synthesis + convert
            self.programs.run(key, *args)
        if self._readback is not None:
            self._readback.start(self._rgba)
        self._mark(stage, t0)
        return self._rgba

    @torch.inference_mode()
    def prepare_frames(self, values: Mapping[str, float], ft: FrameTime) -> list[str]:
        """Compile (and capture, on CUDA) the device half for the frame these values make; off the live
        path (warm-up, a swap's loader thread). Returns one line per mode that fell back, and why."""
        key, args = self.prepare(values, ft)
        return self.programs.prepare(key, *args, check=lambda: self._rgba)

    def readback(self) -> torch.Tensor:
        """The last frame in host memory ``[H, W, 4]`` uint8 (pinned and copied asynchronously on a GPU)."""
        if self._readback is None:
            return self._rgba if self._rgba.device.type == "cpu" else self._rgba.cpu()
        return self._readback.wait()
