"""Time one StyleGAN3 frame (synthesis only) on this machine.

    .venv/bin/python scripts/time_sg3.py --resolution 128 [--config T] [--impl ref] [--repeats 5]

Builds a generator with the official default channels (channel_base 32768, channel_max 512; config R
doubles both), random weights, batch 1, fp32, renders one warm-up frame, then prints the median
milliseconds per frame over ``--repeats`` frames.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from engine.models.stylegan3 import StyleGAN3Generator, stylegan3_kwargs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--config", choices=("T", "R"), default="T")
    parser.add_argument("--impl", default="ref", help="stylegan_ops implementation (ref or fast)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    G = StyleGAN3Generator(**stylegan3_kwargs(args.config, args.resolution)).eval().to(args.device)
    G.synthesis.impl = args.impl
    times = []
    with torch.inference_mode():
        ws = G.mapping(torch.randn(1, G.z_dim, device=args.device))
        for frame in range(args.repeats + 1):
            start = time.perf_counter()
            img = G.synthesis(ws)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if frame > 0:  # the first frame is the warm-up
                times.append(time.perf_counter() - start)
    print(f"StyleGAN3-{args.config} {args.resolution}px, channel_base {G.init_kwargs['channel_base']}, "
          f"channel_max {G.init_kwargs['channel_max']}, impl={args.impl}, {torch.get_num_threads()} "
          f"threads, {args.device}: {statistics.median(times) * 1000:.0f} ms per frame "
          f"(median of {len(times)}; image {tuple(img.shape)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
