"""Time one StyleGAN3 frame (synthesis only) on this machine.

    .venv/bin/python scripts/time_sg3.py --resolution 128 [--config T] [--impl ref,fast] [--repeats 5]

Builds a generator with the official default channels (channel_base 32768, channel_max 512; config R
doubles both), random weights, batch 1, fp32, renders one warm-up frame per impl, then prints the
median milliseconds per frame over ``--repeats`` frames. A comma list of impls is timed interleaved
(frame by frame), with the ratio to the first, so a change in machine load hits every impl alike.
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
    parser.add_argument("--impl", default="ref", help="stylegan_ops implementation, or a comma list timed interleaved")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    G = StyleGAN3Generator(**stylegan3_kwargs(args.config, args.resolution)).eval().to(args.device)
    G.precision = "fp32"
    impls = [name.strip() for name in args.impl.split(",") if name.strip()]
    times: dict[str, list[float]] = {impl: [] for impl in impls}
    with torch.inference_mode():
        ws = G.mapping(torch.randn(1, G.z_dim, device=args.device))
        for frame in range(args.repeats + 1):
            for impl in impls:
                G.impl = impl
                start = time.perf_counter()
                img = G.synthesis(ws)
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                if frame > 0:  # the first frame of each impl is its warm-up
                    times[impl].append(time.perf_counter() - start)
    first = statistics.median(times[impls[0]])
    for impl in impls:
        median = statistics.median(times[impl])
        print(f"StyleGAN3-{args.config} {args.resolution}px, channel_base {G.init_kwargs['channel_base']}, "
              f"channel_max {G.init_kwargs['channel_max']}, impl={impl}, {torch.get_num_threads()} "
              f"threads, {args.device}: {median * 1000:.0f} ms per frame "
              f"(median of {len(times[impl])}; image {tuple(img.shape)})"
              + (f", x{first / median:.2f} vs {impls[0]}" if impl != impls[0] else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
