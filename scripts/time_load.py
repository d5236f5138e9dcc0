"""Load time of an official-size StyleGAN2-1024 training pickle versus the same model in netblend's format.

Makes both files in a scratch folder (random weights; z_dim 512, w_dim 512, channel_base 32768,
channel_max 512, 8 mapping layers, ~30 M generator parameters; like a real snapshot the pickle holds G,
G_ema and a discriminator-sized D, ~29 M random values, ~350 MB in all), then times
``load_generator(path, cache=False)`` for each, best of ``--repeats`` runs, and the reading step alone
(file -> tensors, before the generator is built).

    .venv/bin/python scripts/time_load.py [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.models.build import build_generator  # noqa: E402
from engine.models.loaders import load_generator, read_model, save_generator  # noqa: E402
from tests.models.official_pickle import write_official_pickle  # noqa: E402

OFFICIAL_1024 = {"z_dim": 512, "w_dim": 512, "c_dim": 0, "img_resolution": 1024, "img_channels": 3,
                 "mapping_kwargs": {"num_layers": 8},
                 "synthesis_kwargs": {"channel_base": 32768, "channel_max": 512, "num_fp16_res": 4,
                                      "conv_clamp": 256}}


def discriminator_sized_tensors() -> dict[str, torch.Tensor]:
    """Random tensors shaped like the official StyleGAN2-1024 discriminator's convs (~29 M values)."""
    channels = {res: min(32768 // res, 512) for res in (1024, 512, 256, 128, 64, 32, 16, 8, 4)}
    tensors = {"b1024.fromrgb.weight": torch.randn(channels[1024], 3, 1, 1)}
    for res in (1024, 512, 256, 128, 64, 32, 16, 8):
        cin, cout = channels[res], channels[res // 2]
        tensors[f"b{res}.conv0.weight"] = torch.randn(cin, cin, 3, 3)
        tensors[f"b{res}.conv1.weight"] = torch.randn(cout, cin, 3, 3)
        tensors[f"b{res}.skip.weight"] = torch.randn(cout, cin, 1, 1)
    tensors["b4.conv.weight"] = torch.randn(512, 513, 3, 3)
    tensors["b4.fc.weight"] = torch.randn(512, 512 * 16)
    tensors["b4.out.weight"] = torch.randn(1, 512)
    return tensors


def touch(G: torch.nn.Module) -> float:
    """Touch every 4 KiB page of every weight (a mapped file is read from the page cache on first use)."""
    return float(sum(t.reshape(-1)[::1024].sum() for t in G.state_dict().values()))


def first_use_cost(native_file: Path) -> tuple[float, float]:
    """Seconds to touch every page of a freshly loaded netblend model, and to do it again."""
    G = load_generator(native_file, cache=False)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        touch(G)
        times.append(time.perf_counter() - start)
    return times[0], times[1]


def best_time(fn, repeats: int) -> float:
    """Fastest of ``repeats`` runs of ``fn()`` in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the files here and keep them")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="netblend-time-load-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        torch.manual_seed(0)
        G = build_generator(OFFICIAL_1024)
        params = sum(p.numel() for p in G.parameters())
        pkl = write_official_pickle(folder / "sg2-1024.pkl", OFFICIAL_1024, G.state_dict(), training_copy=True,
                                    extra_networks={"D": discriminator_sized_tensors()})
        nat = save_generator(G, folder / "sg2-1024.netblend.safetensors")
        del G
        print(f"StyleGAN2-1024, {params / 1e6:.1f} M parameters; torch {torch.__version__}, "
              f"{torch.get_num_threads()} threads")
        print(f"  pickle  {pkl.stat().st_size / 2**20:7.1f} MiB   netblend {nat.stat().st_size / 2**20:7.1f} MiB")
        read_pkl = best_time(lambda: read_model(pkl), args.repeats)
        read_nat = best_time(lambda: read_model(nat), args.repeats)
        load_pkl = best_time(lambda: load_generator(pkl, cache=False), args.repeats)
        load_nat = best_time(lambda: load_generator(nat, cache=False), args.repeats)
        first_touch, second_touch = first_use_cost(nat)
        print(f"  read (file -> tensors)   pickle {read_pkl * 1e3:8.1f} ms   netblend {read_nat * 1e3:8.1f} ms   "
              f"ratio {read_pkl / read_nat:6.1f}x")
        print(f"  load_generator (built)   pickle {load_pkl * 1e3:8.1f} ms   netblend {load_nat * 1e3:8.1f} ms   "
              f"ratio {load_pkl / load_nat:6.1f}x")
        print(f"  first use of every page of the mapped netblend file: {first_touch * 1e3:.1f} ms "
              f"(the same pass over pages already read: {second_touch * 1e3:.1f} ms)")
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
