"""Does an NDI output slow the show? A 60 fps loop sends 512x512 frames to a real NDI sender and
reports the rate the loop kept, the longest send() and what NDI took.

This starts a REAL NDI sender, which announces itself on the network. Run it where nothing leaves
the machine (Linux, as root): a network namespace with only loopback, and an NDI config that names
127.0.0.1 (NOTES.md):

    mkdir -p /tmp/ndicfg && echo '{"ndi": {"networks": {"ips": "127.0.0.1"}}}' > /tmp/ndicfg/ndi-config.v1.json
    unshare -n sh -c 'ip link set lo up; NDI_CONFIG_DIR=/tmp/ndicfg .venv/bin/python scripts/ndi_pacing.py'

Measured on the 2-core development machine (docs/outputs.md): before the fix (cyndilib's
clock_video=True) the 60 fps loop ran at 30.2 fps, each send holding it 33.4 ms (median); after it,
60.0 fps, a send costs the loop 0.28 ms (median) and NDI took 178-179 of the 180 frames.
"""

from __future__ import annotations

import argparse
import time

import torch

from engine.sinks.base import Frame
from engine.sinks.ndi import NdiSink


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fps", type=float, default=60.0, help="the show's rate (default 60)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    torch.set_num_threads(1)      # as `netblend run` picks on a busy CPU: no thread-pool wake-up per copy
    pixels = torch.randint(0, 255, (args.size, args.size, 4), dtype=torch.uint8)
    sink = NdiSink("netblend-pacing", fps=30.0).open(args.size, args.size)
    period, frames = 1.0 / args.fps, round(args.seconds * args.fps)
    sends, start = [], time.perf_counter()
    for i in range(frames):
        t = time.perf_counter()
        sink.send(Frame(pixels, i, i * period))
        sends.append(time.perf_counter() - t)
        time.sleep(max(0.0, start + (i + 1) * period - time.perf_counter()))
    elapsed = time.perf_counter() - start
    sink.close()
    sends.sort()
    print(f"a {args.fps:g} fps loop ran at {frames / elapsed:.1f} fps with an NDI output (send on the loop: "
          f"median {sends[len(sends) // 2] * 1e3:.2f} ms, longest {sends[-1] * 1e3:.1f} ms); NDI took "
          f"{sink.delivered} of {frames} frames, dropped {sink.dropped}")


if __name__ == "__main__":
    main()
