"""Milliseconds per frame of the StyleGAN2 runtime on this machine (random weights, fp32, const noise).

    .venv/bin/python scripts/time_sg2.py                      # 256 px, channel_base 8192, channel_max 256
    .venv/bin/python scripts/time_sg2.py --resolution 1024 --channel-base 32768 --channel-max 512
    .venv/bin/python scripts/time_sg2.py --impl ref,fast       # both, frames interleaved, with the ratio

Freed CPU memory is kept for reuse as in a live show (``stylegan_ops.cpu_memory``).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from engine.models.build import build_generator
from stylegan_ops.cpu_memory import retain_freed_memory


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
    parser.add_argument("--impl", default="ref", help="op implementation, or a comma list timed interleaved")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    G = build_generator(dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=args.resolution, img_channels=3,
                             mapping_kwargs={"num_layers": 8},
                             synthesis_kwargs={"channel_base": args.channel_base, "channel_max": args.channel_max,
                                               "num_fp16_res": 0, "conv_clamp": 256,
                                               "architecture": args.architecture}), device=args.device)
    impls = [name.strip() for name in args.impl.split(",") if name.strip()]
    retain_freed_memory()
    z = torch.randn(args.batch, G.z_dim, device=args.device)
    times: dict[str, list[float]] = {impl: [] for impl in impls}
    with torch.inference_mode():
        for frame in range(args.warmup + args.frames):
            for impl in impls:  # interleaved, so a change in machine load hits every impl alike
                G.impl = impl
                start = time.perf_counter()
                G.synthesis(G.mapping(z, truncation_psi=0.7), noise_mode="const")
                if args.device.startswith("cuda"):
                    torch.cuda.synchronize()
                if frame >= args.warmup:
                    times[impl].append((time.perf_counter() - start) * 1000)
    for impl in impls:
        ratio = statistics.median(times[impls[0]]) / statistics.median(times[impl])
        print(f"StyleGAN2-{args.architecture} {args.resolution}px channel_base {args.channel_base} "
              f"channel_max {args.channel_max} batch {args.batch} impl {impl} on {args.device} "
              f"({torch.get_num_threads()} threads): median {statistics.median(times[impl]):.1f} ms/frame, "
              f"min {min(times[impl]):.1f}, max {max(times[impl]):.1f} over {len(times[impl])} frames"
              + (f", x{ratio:.2f} vs {impls[0]}" if impl != impls[0] else ""))
    print(f"yardstick: one plain 32->32 3x3 conv at 256x256 takes {plain_conv_ms(args.device):.1f} ms")

if __name__ == "__main__":
    main()
