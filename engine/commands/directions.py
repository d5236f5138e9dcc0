"""``netblend directions MODEL -o dirs.npz [--method sefa|ganspace] [--layers 0-5,8] [--normalize] [-k N]
[--samples N --seed S]``: latent directions of a model, written as ``.npz``.

The file holds ``directions [k, w_dim]`` (unit rows), ``values [k]`` (SeFa: singular values; GANSpace:
standard deviations) and ``spread [k]`` (the standard deviation of the model's W along each direction,
the unit of the live ``latent.dir.<k>`` amounts). The result is also cached next to the model cache
(``$NETBLEND_CACHE/directions``), where the live engine finds it at load; a second run is instant.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netblend directions``."""
    parser.add_argument("model", metavar="MODEL", help="the generator (.pkl, .pt, netblend)")
    parser.add_argument("-o", "--output", required=True, metavar="DIRS.npz", help="the directions file to write")
    parser.add_argument("--method", choices=("sefa", "ganspace"), default="sefa",
                        help="sefa: closed form from the style affines (default); ganspace: PCA of W")
    parser.add_argument("--layers", metavar="LIST", default=None,
                        help="SeFa: layer-table indices, e.g. 0-3 or 0,2,4-7 (default: every styled layer)")
    parser.add_argument("--torgb", action="store_true", help="SeFa: include the ToRGB affines")
    parser.add_argument("--normalize", action="store_true", help="SeFa: scale each affine row to unit norm first")
    parser.add_argument("-k", "--count", type=int, default=32, help="directions kept (default 32)")
    parser.add_argument("--samples", type=int, default=1000,
                        help="W samples for GANSpace and for every direction's spread (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the W samples (default 0)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or mps (default cpu)")
    parser.add_argument("--force", action="store_true", help="overwrite DIRS.npz if it exists")


def parse_layers(text: str | None) -> tuple[int, ...] | None:
    """``"0-3,6"`` -> ``(0, 1, 2, 3, 6)``; None stays None; raises LatentFileError for anything else."""
    from engine.errors import LatentFileError

    from . import parse_ranges

    if text is None:
        return None
    return tuple(parse_ranges(text, "--layers", "layer indices", "0-3,6", LatentFileError))


def run(args: argparse.Namespace) -> int:
    """Compute (or read from the cache) the directions of MODEL and write DIRS.npz."""
    from engine.errors import LatentFileError
    from engine.latents.directions import DirectionConfig, cached_path, directions_for, save_directions
    from engine.models.loaders import load_generator

    out = Path(args.output).expanduser()
    if out.suffix.lower() != ".npz":
        raise LatentFileError(f"{out.name}: directions are written as .npz; name the output DIRS.npz")
    if out.exists() and not args.force:
        raise LatentFileError(f"{out}: already exists; pass --force to overwrite it or -o to choose another name")
    config = DirectionConfig(method=args.method, layers=parse_layers(args.layers), torgb=args.torgb,
                             normalize=args.normalize, count=args.count, samples=args.samples, seed=args.seed)
    G = load_generator(args.model, device=args.device)
    cached = cached_path(G, config).is_file()
    start = time.perf_counter()
    found = directions_for(G, config)
    save_directions(out, found)
    where = "from the cache" if cached else f"computed in {time.perf_counter() - start:.2f} s and cached"
    print(f"{args.method}: {found.count} directions of w_dim {found.directions.shape[1]} ({where}) -> {out}")
    head = min(found.count, 8)
    print("values: " + " ".join(f"{v:.4g}" for v in found.values[:head]) + (" ..." if found.count > head else ""))
    print("spread: " + " ".join(f"{v:.4g}" for v in found.spread[:head]) + (" ..." if found.count > head else ""))
    return 0
