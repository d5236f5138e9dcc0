"""Host reads and graph breaks per generator frame, per impl: the figures of docs/gpu.md (finding 1).

For each model (random weights, small channels: neither count depends on them) and impl, after one
warm-up frame: the host reads of one more frame on real CPU tensors (each ``item``/``bool``/
``allclose``/``tolist``/device copy would be a sync on a GPU; counted with tests/ops/host_sync.py),
and ``torch._dynamo.explain`` of the synthesis (graphs, breaks).

Usage: .venv/bin/python scripts/op_sync_report.py [--impls ref,fast]   (PYTHONPATH=OLD_OPS:. to measure
another version of stylegan_ops against the same engine)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch._dynamo

sys.path.append(str(Path(__file__).resolve().parents[1]))  # after PYTHONPATH: another stylegan_ops may come first

from engine.models.build import build_generator  # noqa: E402
from engine.show.build import use_ops  # noqa: E402
from tests.ops.host_sync import count_host_syncs  # noqa: E402

MODELS = {
    "stylegan2-1024": dict(z_dim=64, c_dim=0, w_dim=64, img_resolution=1024, img_channels=3, channel_base=16384,
                           channel_max=16, mapping_kwargs={"num_layers": 2}),
    "stylegan3-t-256": dict(z_dim=64, c_dim=0, w_dim=64, img_resolution=256, img_channels=3, channel_base=2048,
                            channel_max=8, mapping_kwargs={"num_layers": 2}, family="stylegan3"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impls", default="ref,fast")
    parser.add_argument("--no-winograd", action="store_true",
                        help="keep 'fast' off NNPACK (which stylegan_ops before the fix handed to the tracer)")
    args = parser.parse_args()
    if args.no_winograd:
        import stylegan_ops.modulated_conv

        stylegan_ops.modulated_conv.WINOGRAD_MIN_MACS = float("inf")
    torch.set_num_threads(2)
    print("| model | impl | host reads per frame | graphs | graph breaks | explain s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, kwargs in MODELS.items():
        kwargs = dict(kwargs)
        family = kwargs.pop("family", None)
        G = build_generator(kwargs, family=family)
        ws = G.mapping(torch.randn(1, G.z_dim))
        for impl in args.impls.split(","):
            use_ops(G, impl)
            with torch.no_grad():
                G.synthesis(ws)  # warm-up: filters read once
                with count_host_syncs() as reads:
                    G.synthesis(ws)
                torch._dynamo.reset()
                start = time.perf_counter()
                try:
                    explained = torch._dynamo.explain(G.synthesis)(ws)
                    graphs = f"{explained.graph_count} | {explained.graph_break_count}"
                except Exception as err:  # report a failing trace as a row, not a crash
                    graphs = f"fails: {str(err).splitlines()[0][:60]} |"
            print(f"| {name} | {impl} | {len(reads)} | {graphs} | {time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
