"""Milliseconds per frame of the StyleGAN2 runtime on this machine (random weights, fp32, const noise).

    .venv/bin/python scripts/time_sg2.py                      # 256 px, channel_base 8192, channel_max 256
    .venv/bin/python scripts/time_sg2.py --resolution 1024 --channel-base 32768 --channel-max 512
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from engine.models.build import build_generator


def plain_conv_ms(device: str) -> float:
    """Median time of one plain 32->32 3x3 conv at 256x256: a yardstick for how busy the machine is."""
    x, w = torch.randn(1, 32, 256, 256, device=device), torch.randn(32, 32, 3, 3, device=device)
    times = []
    with torch.inference_mode():
        for _ in range(8):
            start = time.perf_counter()
            torch.nn.functional.conv2d(x, w, padding=1)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--channel-base", type=int, default=8192)
    parser.add_argument("--channel-max", type=int, default=256)
    parser.add_argument("--architecture", default="skip", choices=["orig", "skip", "resnet"])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--frames", type=int, default=10, help="timed frames (median reported)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--impl", default="ref")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    G = build_generator(dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=args.resolution, img_channels=3,
                             mapping_kwargs={"num_layers": 8},
                             synthesis_kwargs={"channel_base": args.channel_base, "channel_max": args.channel_max,
                                               "num_fp16_res": 0, "conv_clamp": 256,
                                               "architecture": args.architecture}), device=args.device)
    G.impl = args.impl
    z = torch.randn(args.batch, G.z_dim, device=args.device)
    times = []
    with torch.inference_mode():
        for frame in range(args.warmup + args.frames):
            start = time.perf_counter()
            G.synthesis(G.mapping(z, truncation_psi=0.7), noise_mode="const")
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            if frame >= args.warmup:
                times.append((time.perf_counter() - start) * 1000)
    print(f"StyleGAN2-{args.architecture} {args.resolution}px channel_base {args.channel_base} "
          f"channel_max {args.channel_max} batch {args.batch} impl {args.impl} on {args.device} "
          f"({torch.get_num_threads()} threads): median {statistics.median(times):.1f} ms/frame, "
          f"min {min(times):.1f}, max {max(times):.1f} over {len(times)} frames; "
          f"yardstick: one plain 32->32 3x3 conv at 256x256 takes {plain_conv_ms(args.device):.1f} ms")


if __name__ == "__main__":
    main()
