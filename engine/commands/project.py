"""``netblend project PHOTO --model M -o OUT.npz [--wplus] [--steps N] [--seed S] [--vgg16 PATH]``.

Optimises a W (or W+) so the model reproduces the photo, then writes the official projector's
``.npz`` (key ``w``, ``[1, num_ws, w_dim]``) and ``OUT.png`` side by side (target | projection).
The loss is perceptual with VGG16 features when a local torchvision ``vgg16-*.pth`` is found
(``--vgg16`` or the torch hub cache), else a pixel MSE, and the command says which. Nothing is
downloaded. The result loads as a walk keyframe or a style-mixing source in the live engine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

BAR_WIDTH = 30


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netblend project``."""
    parser.add_argument("photo", metavar="PHOTO", help="the photo (PNG/JPEG); centre-cropped and resized")
    parser.add_argument("--model", "-m", required=True, metavar="M", help="the generator (.pkl, .pt, netblend)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.npz", help="the W/W+ file to write")
    parser.add_argument("--wplus", action="store_true", help="optimise one W row per layer (W+)")
    parser.add_argument("--steps", type=int, default=1000, help="optimisation steps (default 1000)")
    parser.add_argument("--seed", type=int, default=303, help="seed of the exploration noise (default 303)")
    parser.add_argument("--lr", type=float, default=0.1, help="peak learning rate (default 0.1)")
    parser.add_argument("--vgg16", metavar="PATH", default=None,
                        help="torchvision vgg16-*.pth for the perceptual loss (default: the torch hub cache)")
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: cuda when available)")


class ProgressBar:
    """``[#####.....] step/steps loss`` on one line of stderr, redrawn about 100 times in a run."""

    def __init__(self, stream=None):
        self.stream = stream
        self.start = time.perf_counter()

    def __call__(self, step: int, steps: int, loss: float) -> None:
        if step != steps and step % max(steps // 100, 1):
            return
        stream = self.stream or sys.stderr
        done = int(BAR_WIDTH * step / steps)
        rate = step / max(time.perf_counter() - self.start, 1e-9)
        stream.write(f"\r[{'#' * done}{'.' * (BAR_WIDTH - done)}] {step}/{steps} loss {loss:.5f} ({rate:.1f} steps/s)")
        if step == steps:
            stream.write("\n")
        stream.flush()


def run(args: argparse.Namespace) -> int:
    """Project ``args.photo`` into ``args.model``'s W/W+; writes OUT.npz and OUT.png."""

    from engine.errors import LatentFileError
    from engine.latents.files import save_latent
    from engine.latents.projection import ProjectionConfig, load_photo, project, psnr, save_side_by_side
    from engine.latents.vgg16 import find_vgg16_weights, load_vgg16
    from engine.models.loaders import load_generator

    out = Path(args.output).expanduser()
    if out.suffix.lower() != ".npz":
        raise LatentFileError(f"{out.name}: the projector writes .npz files; name the output OUT.npz")
    if args.steps < 1:
        raise LatentFileError(f"--steps {args.steps}: needs at least 1 step")
    if not Path(args.photo).expanduser().is_file():
        raise LatentFileError(f"{args.photo}: no such photo; give the path of a .jpg or .png")
    from engine.show.build import resolve_device

    device = resolve_device(args.device or "auto")
    G: Any = load_generator(args.model, device=device)   # a Generator (typed as a plain Module)
    target = load_photo(args.photo, G.img_resolution).to(device)      # [1, 3, R, R]
    weights = find_vgg16_weights(args.vgg16)
    vgg = load_vgg16(weights, device) if weights is not None else None
    loss_name = f"perceptual (VGG16 features, {weights.name})" if weights else \
        "pixel MSE (no VGG16 weights found: pass --vgg16 PATH to torchvision's vgg16-*.pth for a better fit)"
    space = "W+" if args.wplus else "W"
    print(f"projecting {args.photo} into {space} of {G.family} {G.img_resolution}px, {args.steps} steps, "
          f"loss: {loss_name}")
    config = ProjectionConfig(steps=args.steps, w_plus=args.wplus, seed=args.seed, lr=args.lr)
    if device.type == "cpu":                  # the thread policy of every command: time a few steps both ways
        from engine.show.build import choose_cpu_threads

        trial = ProjectionConfig(steps=2, w_plus=args.wplus, seed=args.seed, lr=args.lr)

        def timed() -> float:
            start = time.perf_counter()
            project(G, target, trial, vgg=vgg)
            return time.perf_counter() - start

        choose_cpu_threads(timed)
    result = project(G, target, config, vgg=vgg, progress=ProgressBar())
    save_latent(out, result.ws)
    png = save_side_by_side(out.with_suffix(".png"), target, result.image)
    print(f"wrote {out} (w {tuple(result.ws.shape)}) and {png} (target | projection); "
          f"final loss {result.losses[-1]:.5f}, PSNR {psnr(result.image, target):.2f} dB")
    return 0
