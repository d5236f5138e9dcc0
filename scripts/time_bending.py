"""Cost of network bending per layer on the built-in demo (blended A/B, 256 px), side by side.

    .venv/bin/python scripts/time_bending.py [--frames 5] [--threads 1] [--layers 0,5,13]

For every layer: the transforms alone, timed on that layer's own feature map (geometric = translate
+ rotate + scale + flip, one bilinear warp; pointwise = invert + multiply + ablate), which is steady
even on a busy machine; then whole frames without bending, with the geometric and with the pointwise
ops, rendered interleaved so a change in machine load hits all three alike. Zero amounts install
nothing, so "off" is the plain frame.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from engine.blend.generator import BlendedGenerator
from engine.latents.seeds import seed_to_z
from engine.models.bending import NetworkBender, param_name
from engine.models.demo import demo_pair
from stylegan_ops.cpu_memory import retain_freed_memory

SETTINGS = {
    "off": {},
    "geometric": {"translate_x": 0.1, "translate_y": -0.05, "rotate": 20.0, "scale": 0.3, "flip": 0.2},
    "pointwise": {"invert": 0.5, "multiply": 0.5, "ablate": 0.3},
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5, help="timed frames per setting and layer (median)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = torch's default)")
    parser.add_argument("--layers", default="", help="comma list of layer indices (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    retain_freed_memory()
    G = BlendedGenerator(list(demo_pair("cpu")))
    G.set_blend(layers={i: 0.5 for i in range(len(G.layers))})
    bender = NetworkBender(G)
    layers = [int(v) for v in args.layers.split(",") if v.strip()] or list(range(len(G.layers)))
    with torch.inference_mode():
        ws = G.mapping(seed_to_z(0, G.z_dim), truncation_psi=0.7)
        G.synthesis(ws)                                                   # warm-up
    maps: dict[int, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda m, a, out, i=i: maps.setdefault(i, out.clone()))
             for i, m in enumerate(bender.modules)]
    with torch.inference_mode():
        G.synthesis(ws)
    for hook in hooks:
        hook.remove()
    print(f"demo {G.img_resolution}px, impl {G.impl}, {torch.get_num_threads()} threads, "
          f"median of {args.frames} per setting")
    print(f"{'layer':<30}{'geometric op ms':>16}{'pointwise op ms':>16}"
          f"{'frame off':>11}{'geometric':>11}{'pointwise':>11}")
    for layer in layers:
        op_ms = {}
        for name in ("geometric", "pointwise"):
            bender.update({param_name(layer, op): amount for op, amount in SETTINGS[name].items()})
            samples = []
            with torch.inference_mode():
                for rep in range(4 * args.frames + 1):
                    start = time.perf_counter()
                    bender.bend(layer, maps[layer])
                    if rep:
                        samples.append((time.perf_counter() - start) * 1000)
            op_ms[name] = statistics.median(samples)
        times: dict[str, list[float]] = {name: [] for name in SETTINGS}
        for frame in range(args.frames + 1):
            for name, ops in SETTINGS.items():
                bender.update({param_name(layer, op): amount for op, amount in ops.items()})
                start = time.perf_counter()
                with torch.inference_mode():
                    G.synthesis(ws)
                if frame:                                                 # frame 0 warms each setting up
                    times[name].append((time.perf_counter() - start) * 1000)
        med = {name: statistics.median(values) for name, values in times.items()}
        entry = G.layers[layer]
        label = f"{layer} {entry.name.split(' ')[0]} [{entry.channels}, {entry.resolution}^2]"
        print(f"{label:<30}{op_ms['geometric']:>16.2f}{op_ms['pointwise']:>16.2f}"
              f"{med['off']:>11.1f}{med['geometric']:>11.1f}{med['pointwise']:>11.1f}")
    bender.reset()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
