"""`netblend bench`: per-frame time by stage, reference and fast ops side by side, as a table and JSON.

Every configuration is built in code with random weights (official channel configs unless
``--quick``), blended with a perturbed sibling and walked, exactly like a live frame: blend (a mask
that changes every frame), mapping (walk + truncation), synthesis, uint8 RGBA conversion, readback
to host memory, and a null sink. Ratios compare implementations measured in the same run, because
these machines are noisy.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

FAMILIES = ("sg2", "sg3t", "sg3r")


def configure(parser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma list of sg2, sg3t, sg3r")
    parser.add_argument("--sizes", default=None,
                        help="comma list of resolutions (default: 256,512,1024 on a GPU; 256 for sg2 and 128 for "
                             "StyleGAN3 on a CPU)")
    parser.add_argument("--impls", default="ref,fast", help="op implementations to compare (ref, fast)")
    parser.add_argument("--precision", default=None, help="fp32,fp16 (fp16 on CUDA only; default fp32 on CPU)")
    parser.add_argument("--frames", type=int, default=None, help="timed frames per configuration")
    parser.add_argument("--quick", action="store_true", help="tiny models, two frames each (CI smoke run)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")


def _kwargs(family: str, res: int, quick: bool) -> dict:
    if family == "sg2":
        if quick:
            return dict(z_dim=64, w_dim=64, c_dim=0, img_resolution=res, img_channels=3,
                        mapping_kwargs={"num_layers": 2}, channel_base=1024, channel_max=64, architecture="skip",
                        conv_clamp=256)
        return dict(z_dim=512, w_dim=512, c_dim=0, img_resolution=res, img_channels=3,
                    mapping_kwargs={"num_layers": 8}, channel_base=32768, channel_max=512, architecture="skip",
                    conv_clamp=256)
    from ..models.stylegan3 import stylegan3_kwargs

    config = "T" if family == "sg3t" else "R"
    if quick:
        return stylegan3_kwargs(config, res, z_dim=64, w_dim=64, channel_base=1024, channel_max=64)
    return stylegan3_kwargs(config, res)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def bench_config(family: str, res: int, device, impls, precision: str, frames: int, quick: bool) -> dict:
    """Times one configuration; returns a JSON-ready dict with per-stage ms for each impl."""
    import torch

    from ..blend.benchmark import sibling_state_dict
    from ..core.clock import FakeClock
    from ..models.build import build_generator
    from ..show.build import build_show, use_ops
    from ..sinks.base import Frame
    from ..sinks.null import NullSink

    torch.manual_seed(0)
    kwargs = _kwargs(family, res, quick)
    a = build_generator(kwargs, device=device)
    b = build_generator(kwargs, sibling_state_dict(a, seed=1), device=device)
    show = build_show([a, b], device)
    renderer, registry = show.renderer, show.registry
    registry.set("latent.walk.mode", "slerp")
    sink = NullSink(readback=False).open(renderer.width, renderer.height)
    result = {"family": family, "resolution": res, "device": str(device), "precision": precision,
              "parameters": sum(p.numel() for p in a.parameters()), "impls": {}}
    for impl in impls:
        use_ops(renderer.blended, impl)
        clock = FakeClock(fps=60)
        stages: dict[str, list[float]] = {}
        totals = []
        for n in range(frames + 1):                       # frame 0 warms up
            registry.set("blend.layer.0", (n % 7) / 7)     # a mask that changes every frame
            ft = clock.tick()
            snap = registry.snapshot(ft.dt)
            renderer.profile = True
            pixels = renderer.render(snap.values, ft)
            t0 = time.perf_counter()
            frame = Frame(pixels, n, _readback=renderer.readback)
            frame.host()
            t1 = time.perf_counter()
            sink.send(frame)
            t2 = time.perf_counter()
            times = dict(renderer.times.seconds, readback=t1 - t0, sink=t2 - t1)
            renderer.profile = False
            t3 = time.perf_counter()
            renderer.render(snap.values, ft)               # the same frame, no per-stage syncs
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            totals.append(time.perf_counter() - t3)
            if n == 0:
                continue
            for stage, sec in times.items():
                stages.setdefault(stage, []).append(sec * 1000)
        frame_ms = _median(totals[1:]) * 1000
        result["impls"][impl] = {"frame_ms": frame_ms, "fps": 1000 / frame_ms if frame_ms else 0.0,
                                 "stages_ms": {k: _median(v) for k, v in stages.items()}}
    if "ref" in result["impls"] and len(result["impls"]) > 1:
        ref = result["impls"]["ref"]["frame_ms"]
        result["speedup_vs_ref"] = {k: ref / v["frame_ms"] for k, v in result["impls"].items() if v["frame_ms"]}
    return result


def format_table(results: list[dict]) -> str:
    stages = ("blend", "mapping", "synthesis", "convert", "readback", "sink")
    head = f"{'config':<14}{'prec':<6}{'impl':<6}{'ms/frame':>10}{'fps':>8}" + "".join(f"{s:>10}" for s in stages)
    lines = [head, "-" * len(head)]
    for r in results:
        for impl, v in r["impls"].items():
            speed = r.get("speedup_vs_ref", {}).get(impl)
            tag = f"  x{speed:.2f} vs ref" if speed and impl != "ref" else ""
            lines.append(f"{r['family'] + '@' + str(r['resolution']):<14}{r['precision']:<6}{impl:<6}"
                         f"{v['frame_ms']:>10.1f}{v['fps']:>8.1f}"
                         + "".join(f"{v['stages_ms'].get(s, 0.0):>10.2f}" for s in stages) + tag)
    return "\n".join(lines)


def run(args) -> int:
    import torch

    from ..errors import NetblendError
    from ..show.build import resolve_device

    device = resolve_device(args.device)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise NetblendError(f"--families: unknown {', '.join(bad)}; choose from {', '.join(FAMILIES)}")
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    precisions = (args.precision or ("fp32,fp16" if device.type == "cuda" else "fp32")).split(",")
    if "fp16" in precisions and device.type != "cuda":
        raise NetblendError("--precision fp16 needs a CUDA device (the CPU path is fp32)")
    if "fp16" in precisions:
        print("note: fp16 here means the models' own num_fp16_res layers; timings are still measured per frame",
              file=sys.stderr)
    frames = args.frames or (2 if args.quick else 5)
    results = []
    for family in families:
        if args.sizes:
            sizes = [int(s) for s in args.sizes.split(",")]
        elif args.quick:
            sizes = [64]
        else:
            sizes = [256, 512, 1024] if device.type != "cpu" else [256 if family == "sg2" else 128]
        for res in sizes:
            for precision in precisions:
                if device.type == "cuda":
                    torch.backends.cuda.matmul.allow_tf32 = precision != "fp32"
                r = bench_config(family, res, device, impls, precision, frames, args.quick)
                results.append(r)
                rows = format_table([r]).splitlines()
                print("\n".join(rows if len(results) == 1 else rows[2:]), flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"device": str(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "results": results}, f, indent=2)
        print(f"wrote {args.json}")
    return 0
