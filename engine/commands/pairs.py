"""``netblend pairs A B --mask SPEC --seeds 0-999 [--psi 0.7] [--layout aligned|folders] [--wplus FILE ...]
-o DIR``: image pairs for distilling a blend into a pix2pix model.

For each seed: model A's image and the blended model's image of the same latent (each through its
own mapping, so ``mapping=`` in the mask counts; the same psi), or for each ``--wplus`` file (a
projected photo's W+) the two images of that W+. Layouts:

- ``aligned`` (default): ``DIR/train/<seed>.png``, A on the left and the blend on the right, pix2pix's
  aligned dataset format;
- ``folders``: ``DIR/A/train/<seed>.png`` and ``DIR/B/train/<seed>.png``, the input of pix2pix's
  ``combine_A_and_B.py`` (and of unaligned loaders).

Every file is written to a temporary name and renamed when complete, so an interrupted run leaves no
half-written image; running the same command again skips the pairs already written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from engine.blend.spec import HELP

BAR_WIDTH = 30
LAYOUTS = ("aligned", "folders")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``netblend pairs``."""
    parser.add_argument("a", metavar="A", help="model A, the base (its images are the pix2pix input)")
    parser.add_argument("b", metavar="B", help="model B, fine-tuned from A")
    parser.add_argument("--mask", metavar="SPEC", required=True, help=f"the blend: {HELP}")
    parser.add_argument("--seeds", metavar="LIST", default="0-999",
                        help="seeds, e.g. 0-999 or 1,5,10-20 (default 0-999)")
    parser.add_argument("--psi", type=float, default=1.0, help="truncation psi for both images (default 1)")
    parser.add_argument("--layout", choices=LAYOUTS, default="aligned",
                        help="aligned: DIR/train/<seed>.png as A|B; folders: DIR/A/train and DIR/B/train")
    parser.add_argument("--wplus", metavar="FILE", nargs="+", default=None,
                        help="W/W+ files (e.g. from netblend project) instead of seeds: one pair per file")
    parser.add_argument("--class", dest="cls", type=int, default=0, help="class label of conditional models")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: cuda when available)")
    parser.add_argument("-o", "--output", metavar="DIR", required=True, help="the dataset folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_seeds(text: str) -> list[int]:
    """``"0-3,7"`` -> ``[0, 1, 2, 3, 7]`` (order kept, repeats dropped); a NetblendError for anything else."""
    from engine.errors import NetblendError

    from . import parse_ranges

    return list(dict.fromkeys(parse_ranges(text, "--seeds", "seeds", "0-999 or 1,5,10-20", NetblendError)))


@dataclass(frozen=True)
class PairFolder:
    """Where the pairs of one dataset go, and whether a pair is already complete."""

    root: Path
    layout: str = "aligned"

    def paths(self, name: str) -> list[Path]:
        if self.layout == "aligned":
            return [self.root / "train" / f"{name}.png"]
        return [self.root / "A" / "train" / f"{name}.png", self.root / "B" / "train" / f"{name}.png"]

    def folders(self) -> list[Path]:
        return sorted({p.parent for p in self.paths("x")})

    def complete(self, name: str) -> bool:
        return all(p.is_file() for p in self.paths(name))

    def clean(self) -> int:
        """Remove temporary files an interrupted run left behind; returns how many."""
        removed = 0
        for folder in self.folders():
            for stale in folder.glob(".*.tmp"):
                stale.unlink()
                removed += 1
        return removed

    def write(self, name: str, image_a, image_b) -> None:
        """Write one pair (uint8 ``[H, W, 3]`` numpy arrays) atomically, file by file."""
        import numpy as np

        images = [np.concatenate([image_a, image_b], axis=1)] if self.layout == "aligned" else [image_a, image_b]
        for path, pixels in zip(self.paths(name), images):
            _write_png(path, pixels)


def _write_png(path: Path, pixels) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            Image.fromarray(pixels).save(f, format="PNG")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def to_pixels(img) -> Any:
    """float ``[1, 3, H, W]`` in about [-1, 1] -> uint8 ``[H, W, 3]`` numpy, as the live renderer converts."""
    import torch

    rgb = img[0].permute(1, 2, 0).float().mul(127.5).add(128.0).clamp(0.0, 255.0)
    return rgb.to(torch.uint8).cpu().numpy()


class ProgressBar:
    """``[#####.....] done/total (rate/s)`` on one line of stderr."""

    def __init__(self, total: int, quiet: bool = False) -> None:
        self.total, self.quiet = total, quiet
        self.start = time.perf_counter()

    def __call__(self, done: int) -> None:
        if self.quiet or self.total == 0:
            return
        filled = int(BAR_WIDTH * done / self.total)
        rate = done / max(time.perf_counter() - self.start, 1e-9)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{self.total} ({rate:.1f} pairs/s)")
        if done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()



def _same(ws):
    """Model A's and the blend's W+ for a projected photo: the same tensor."""
    return ws, ws

def pair_latents(A, blended, seeds: Sequence[int], wplus: Sequence[str] | None, psi: float,
                 cls: int, device) -> Iterator[tuple[str, Callable[[], tuple[Any, Any]]]]:
    """``(name, make)`` per pair; ``make()`` returns the W+ of A's image and of the blended image."""
    import torch

    from engine.latents.files import load_latent
    from engine.latents.seeds import class_label, seed_to_z

    if wplus:
        for path in wplus:
            ws = load_latent(path, A, device=device)
            yield Path(path).stem, partial(_same, ws)
        return
    for seed in seeds:
        def make(seed: int = seed) -> tuple[Any, Any]:
            z = torch.from_numpy(seed_to_z(seed, A.z_dim)).to(device, torch.float32)
            c = class_label(A, cls, device)
            return (A.mapping(z, c, truncation_psi=psi), blended.mapping(z, c, truncation_psi=psi))
        yield str(seed), make


def run(args: argparse.Namespace) -> int:
    """Render and write every missing pair; an interruption leaves only complete files."""
    import torch

    from engine.blend.generator import BlendedGenerator
    from engine.blend.spec import parse_mask
    from engine.errors import NetblendError
    from engine.models.loaders import load_generator

    seeds = [] if args.wplus else parse_seeds(args.seeds)
    folder = PairFolder(Path(args.output).expanduser(), args.layout)
    if folder.root.exists() and not folder.root.is_dir():
        raise NetblendError(f"{folder.root}: not a folder; -o takes the dataset folder")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    A: Any = load_generator(args.a, device=device)
    blended = BlendedGenerator([A, load_generator(args.b, device=device)])
    blended.apply(parse_mask(args.mask, blended.layers))
    removed = folder.clean()
    jobs = [(name, make) for name, make in pair_latents(A, blended, seeds, args.wplus, args.psi, args.cls, device)
            if not folder.complete(name)]
    total = len(args.wplus) if args.wplus else len(seeds)
    print(f"{total} pairs in {folder.root} ({args.layout}): {total - len(jobs)} already there, "
          f"{len(jobs)} to render" + (f"; removed {removed} unfinished file(s)" if removed else ""))
    bar = ProgressBar(len(jobs), args.quiet)
    with torch.inference_mode():
        for done, (name, make) in enumerate(jobs, start=1):
            ws_a, ws_b = make()
            image_a = to_pixels(A.synthesis(ws_a, noise_mode="const"))
            image_b = to_pixels(blended.synthesis(ws_b, noise_mode="const"))
            folder.write(name, image_a, image_b)
            bar(done)
    print(f"wrote {len(jobs)} pair(s); {total} complete in {folder.root}")
    return 0
