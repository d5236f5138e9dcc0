"""Projection of a photo into W or W+: the offline half of the portrait workflow.

Optimises a W (one row, broadcast) or a W+ (one row per layer) so the generator reproduces a target
image, starting from ``w_avg``, with Adam, a learning-rate ramp and a decaying exploration noise on w,
following the official projector's recipe. The model's stored constant noise is kept as it is: the
result is a W/W+ file that the live engine renders with that same noise, so there is no per-layer
noise to optimise or regularise. The loss is perceptual (VGG16 features, when a local weights file
is given) or a pixel MSE.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import NetblendError
from .seeds import class_label
from .vgg16 import VGG16Features, perceptual_distance


class PhotoError(NetblendError):
    """A photo that cannot be read."""


@dataclass
class ProjectionConfig:
    steps: int = 1000                 # optimisation steps (the official default)
    w_plus: bool = False              # optimise one row per layer instead of one shared W
    seed: int = 303                   # seeds the exploration noise and the w statistics
    lr: float = 0.1                   # peak learning rate
    lr_rampup: float = 0.05           # fraction of the steps spent ramping the rate up
    lr_rampdown: float = 0.25         # fraction spent ramping it down (cosine)
    initial_noise: float = 0.05       # exploration noise on w, times w's spread, at step 0
    noise_ramp: float = 0.75          # fraction of the steps over which that noise fades out
    w_samples: int = 2000             # mapping samples for w's spread


@dataclass
class ProjectionResult:
    ws: torch.Tensor                  # [1, num_ws, w_dim] (the official projector's `w`)
    image: torch.Tensor               # [1, 3, R, R] synthesis of ws, constant noise
    losses: list[float] = field(default_factory=list)


def load_photo(path: str | os.PathLike, resolution: int) -> torch.Tensor:
    """A photo as ``[1, 3, R, R]`` in [-1, 1]: centre-cropped to a square, resized (Lanczos)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as e:
        raise PhotoError(f"cannot read photo {Path(path).name}: {e}; use a PNG or JPEG file") from None
    w, h = im.size
    side = min(w, h)
    im = im.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
    im = im.resize((resolution, resolution), Image.Resampling.LANCZOS)
    pixels = torch.from_numpy(np.asarray(im, dtype=np.float32).copy())      # [R, R, 3] in 0..255
    return (pixels.permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0).contiguous()  # [1, 3, R, R]


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """``[1, 3, H, W]`` in about [-1, 1] -> uint8 ``[H, W, 3]``."""
    return (img[0].detach().float().cpu().permute(1, 2, 0) * 127.5 + 128.0).clamp(0, 255).to(torch.uint8).numpy()


def save_side_by_side(path: str | os.PathLike, target: torch.Tensor, image: torch.Tensor) -> Path:
    """Write ``target | image`` as one PNG."""
    from PIL import Image

    Image.fromarray(np.concatenate([to_uint8(target), to_uint8(image)], axis=1)).save(path)
    return Path(path)


@contextmanager
def _frozen(G) -> Iterator[None]:
    """Gradients flow to w only; the generator's own requires_grad flags come back afterwards."""
    flags = [(p, p.requires_grad) for p in G.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def w_spread(G, samples: int, seed: int, device: torch.device) -> float:
    """Root-mean-square distance of mapped w's from ``w_avg`` (the scale of the exploration noise)."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(samples, G.z_dim)).to(device, torch.float32)
    c = class_label(G, 0, device)
    with torch.no_grad():
        w = G.mapping(z, None if c is None else c.expand(samples, -1))[:, 0]   # [S, w_dim]
        return float((w - G.mapping.w_avg).square().sum(dim=1).mean().sqrt())


def _vgg_size(img: torch.Tensor) -> torch.Tensor:
    """Images larger than 256 px are area-downsampled to 256 before VGG (as the official projector)."""
    return F.interpolate(img, size=(256, 256), mode="area") if img.shape[-1] > 256 else img


def learning_rate(config: ProjectionConfig, step: int) -> float:
    """The official schedule: linear ramp up, flat, cosine ramp down."""
    t = step / max(config.steps, 1)
    down = min(1.0, (1.0 - t) / config.lr_rampdown)
    return config.lr * (0.5 - 0.5 * math.cos(down * math.pi)) * min(1.0, t / config.lr_rampup)


def project(G, target: torch.Tensor, config: ProjectionConfig | None = None,
            vgg: VGG16Features | None = None,
            progress: Callable[[int, int, float], None] | None = None) -> ProjectionResult:
    """Optimise W (or W+) so ``G.synthesis`` reproduces ``target`` ``[1, 3, R, R]`` (same device as G).

    ``vgg``: perceptual loss when given, else pixel MSE. ``progress(step, steps, loss)`` after each step.
    """
    config = config or ProjectionConfig()
    device = target.device
    w_avg = G.mapping.w_avg.detach()                                              # [w_dim]
    scale = w_spread(G, config.w_samples, config.seed, device)
    rows = G.num_ws if config.w_plus else 1
    w_opt = w_avg.view(1, 1, -1).repeat(1, rows, 1).clone().requires_grad_(True)  # [1, rows, w_dim]
    optimizer = torch.optim.Adam([w_opt], lr=config.lr, betas=(0.9, 0.999))
    gen = torch.Generator(device=device).manual_seed(config.seed)
    target_taps = None
    if vgg is not None:
        with torch.no_grad():
            target_taps = vgg(_vgg_size(target))
    losses: list[float] = []
    with _frozen(G):
        for step in range(config.steps):
            t = step / config.steps
            noise_scale = scale * config.initial_noise * max(0.0, 1.0 - t / config.noise_ramp) ** 2
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            w_noise = torch.randn(w_opt.shape, generator=gen, device=device) * noise_scale
            ws = (w_opt + w_noise).expand(1, G.num_ws, -1)                           # [1, num_ws, w_dim]
            synth = G.synthesis(ws, noise_mode="const")                              # [1, 3, R, R]
            if vgg is not None and target_taps is not None:
                loss = perceptual_distance(vgg, _vgg_size(synth), target_taps)
            else:
                loss = F.mse_loss(synth, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            if progress is not None:
                progress(step + 1, config.steps, losses[-1])
    ws = w_opt.detach().expand(1, G.num_ws, -1).clone()                              # [1, num_ws, w_dim]
    with torch.no_grad():
        image = G.synthesis(ws, noise_mode="const")
    return ProjectionResult(ws=ws, image=image, losses=losses)


def psnr(image: torch.Tensor, target: torch.Tensor, peak: float = 2.0) -> float:
    """Peak signal-to-noise ratio in dB; ``peak`` is the value range (2 for images in [-1, 1])."""
    mse = float((image.float() - target.float()).square().mean())
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)
