"""`netblend bench`: the live frame timed per stage, eager / compiled / CUDA graph side by side, fp32 and
fp16 as each layer really ran, as a table, JSON and Markdown; ``--features`` times the demo frame with
each toolkit feature off and on.

Every configuration is a real show over random weights (official channel configs unless ``--quick``),
blended with a sibling through a mask that changes every frame, and walking: blend write, latents,
synthesis, uint8 RGBA conversion and readback, exactly a live frame (:mod:`engine.show.benchmark`).
The modes of a configuration run interleaved in one process, because these machines are noisy. TF32 is
off on CUDA (fp32 rows are fp32), and CUDA and MPS timings synchronise the device.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

FAMILIES = ("sg2", "sg3t", "sg3r", "demo")  # engine.show.benchmark's (not imported here: configure stays light)
MODES = ("eager", "compiled", "graph")
STAGES = ("blend", "mapping", "synthesis", "convert", "frame", "readback")


def configure(parser) -> None:
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument("--families", default="sg2,sg3t", help=f"comma list of {', '.join(FAMILIES)}")
    parser.add_argument("--sizes", default=None,
                        help="comma list of resolutions (default: 256,512,1024 on a GPU; 256 for StyleGAN2 and 64 "
                             "for StyleGAN3 on a CPU; 64 with --quick)")
    parser.add_argument("--modes", default=None,
                        help="comma list of eager, compiled, graph (default: all that can run here)")
    parser.add_argument("--precision", default=None, help="fp32,fp16 (fp16 on CUDA only; default fp32, +fp16 on CUDA)")
    parser.add_argument("--impls", default=None, help="op implementations to compare, e.g. ref,fast (default: the "
                                                      "device's default per op)")
    parser.add_argument("--frames", type=int, default=None, help="timed frames per configuration and mode")
    parser.add_argument("--configs", default=None, metavar="LIST",
                        help="explicit configurations in this order, e.g. sg2@1024/fp16,sg3t@1024/fp16 (instead "
                             "of --families, --sizes and --precision)")
    parser.add_argument("--budget", type=float, default=None, metavar="S",
                        help="compile and capture only for configurations started within S seconds (later rows "
                             "run eagerly and say so)")
    parser.add_argument("--stop", type=float, default=None, metavar="S",
                        help="start no configuration after S seconds (its rows say so)")
    parser.add_argument("--quick", action="store_true", help="tiny models, two frames each (CI smoke run)")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend (default inductor; "
                                                              "aot_eager for a fast smoke run)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--markdown", metavar="OUT", help="also write the table as Markdown")
    parser.add_argument("--features", action="store_true",
                        help="time the demo frame with each toolkit feature off and on instead")
    parser.add_argument("--rounds", type=int, default=None, help="--features: interleaved rounds (default 5)")


def _list(text: str | None, default: list[str]) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()] if text else default


def _sizes(args, family: str, device) -> list[int]:
    if family == "demo":
        return [256]
    if args.sizes:
        return [int(s) for s in args.sizes.split(",")]
    if args.quick:
        return [64] if family == "sg2" else [32]
    return [256, 512, 1024] if device.type != "cpu" else [256 if family == "sg2" else 64]


def bench_config(family: str, res: int, device, precision: str, impl: str | None, modes: list[str],
                 frames: int, quick: bool, backend: str) -> dict:
    """One configuration, every mode side by side: a JSON-ready dict."""
    import torch

    from ..show.benchmark import bench_modes, bench_show, layer_dtypes

    show = bench_show(family, res, device, precision=precision, quick=quick, impl=impl)
    try:
        renderer = show.renderer
        with torch.inference_mode():
            dtypes = layer_dtypes(renderer, show.registry.targets())
        result = {"family": family, "resolution": res, "precision": precision, "layer_dtypes": dtypes,
                  "impl": renderer.blended.impl, "parameters": renderer.blended.live.num_parameters(),
                  "modes": bench_modes(show, modes, frames, backend=backend)}
    finally:
        show.close()
    eager = result["modes"].get("eager", {}).get("frame_ms")
    for row in result["modes"].values():
        if eager and row.get("frame_ms"):
            row["speedup_vs_eager"] = eager / row["frame_ms"]
    return result


def plan(args, families: list[str], precisions: list[str], device) -> list[tuple[str, int, str]]:
    """``(family, resolution, precision)`` in the order to measure: ``--configs`` as given, else every
    family x size x precision."""
    from ..errors import NetblendError

    if not args.configs:
        return [(f, r, p) for f in families for r in _sizes(args, f, device) for p in precisions]
    out = []
    for item in _list(args.configs, []):
        family, _, rest = item.partition("@")
        size, _, precision = rest.partition("/")
        if family not in FAMILIES or not size.isdigit() or precision not in ("", "fp32", "fp16"):
            raise NetblendError(f"--configs {item!r}: write FAMILY@SIZE or FAMILY@SIZE/PRECISION, e.g. sg2@1024/fp16")
        if precision == "fp16" and device.type != "cuda":
            raise NetblendError("--precision fp16 needs a CUDA device (CPU and MPS frames render fp32)")
        out.append((family, int(size), precision or "fp32"))
    return out


def not_measured(family: str, res: int, precision: str, impl: str, modes: list[str], why: str) -> dict:
    """A row for a configuration that was not run, saying why."""
    return {"family": family, "resolution": res, "precision": precision, "layer_dtypes": {}, "impl": impl or "default",
            "modes": {m: {"skipped": why} for m in modes}}


def precision_label(r: dict) -> str:
    """``fp16 (10/17 half)``: the asked precision and how many layers really ran in half."""
    dtypes = r["layer_dtypes"]
    total = sum(dtypes.values())
    return f"{r['precision']} ({dtypes.get('float16', 0)}/{total} half)" if total else r["precision"]


def table_rows(results: list[dict]) -> list[list[str]]:
    """One row per configuration and mode: the cells of the text and Markdown tables."""
    rows = []
    for r in results:
        for mode, m in r["modes"].items():
            config = [f"{r['family']}@{r['resolution']}", precision_label(r), r["impl"], mode]
            if "skipped" in m:
                rows.append(config + ["-", "-", "-"] + ["-"] * len(STAGES) + [f"not measured: {m['skipped']}"])
                continue
            stages = m["stages_ms"]
            speed = m.get("speedup_vs_eager")
            note = f"control->pixels {m['control_ms']:.1f} ms"
            if speed and mode != "eager":
                note = f"x{speed:.2f} vs eager, {note}, ready in {m['prepare_s']:.0f} s"
            rows.append(config + [f"{m['frame_ms']:.2f}", f"{m['fps']:.1f}", f"{100 * m['blend_share']:.1f}%"]
                        + [f"{stages[s]:.2f}" if s in stages else "" for s in STAGES] + [note])
    return rows


HEAD = ["config", "precision (layers)", "impl", "mode", "ms/frame", "fps", "blend %", *STAGES, "notes"]


def format_table(results: list[dict]) -> str:
    """Aligned text: one line per configuration and mode; stage columns in ms (each stage synchronised)."""
    rows = [HEAD] + table_rows(results)
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEAD) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1] for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_markdown(results: list[dict], meta: dict) -> str:
    """The same table as Markdown, with the machine it was measured on."""
    lines = [f"netblend bench on {meta['device_name']} ({meta['device']}), torch {meta['torch']}, "
             f"{meta['threads']} CPU threads, TF32 {'on' if meta['tf32'] else 'off'}; ms per frame (median), "
             "stages synchronised one by one; blended with a moving mask and walking.", "",
             "| " + " | ".join(HEAD) + " |", "|" + "|".join("---" for _ in HEAD) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    return "\n".join(lines) + "\n"


def machine(device) -> dict:
    """What the figures were measured on."""
    import platform

    import torch

    name = platform.processor() or platform.machine()
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    tf32 = device.type == "cuda" and bool(torch.backends.cuda.matmul.allow_tf32 or torch.backends.cudnn.allow_tf32)
    return {"device": str(device), "device_name": name, "torch": torch.__version__, "cuda": torch.version.cuda,
            "threads": torch.get_num_threads(), "tf32": tf32, "python": platform.python_version()}


def write_outputs(args, results: list[dict], meta: dict) -> None:
    for path, text in ((args.json, lambda: json.dumps({**meta, "results": results}, indent=2)),
                       (args.markdown, lambda: format_markdown(results, meta))):
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text(), encoding="utf-8")
            print(f"wrote {path}")


def run(args) -> int:
    import torch

    from ..errors import NetblendError
    from ..show.build import resolve_device

    device = resolve_device(args.device)
    if args.features:
        from .bench_features import run_features

        return run_features(args, device)
    families = _list(args.families, ["sg2", "sg3t"])
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        raise NetblendError(f"--families: unknown {', '.join(bad)}; choose from {', '.join(FAMILIES)}")
    modes = _list(args.modes, list(MODES))
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise NetblendError(f"--modes: unknown {', '.join(bad)}; choose from {', '.join(MODES)}")
    precisions = _list(args.precision, ["fp32", "fp16"] if device.type == "cuda" else ["fp32"])
    if "fp16" in precisions and device.type != "cuda":
        raise NetblendError("--precision fp16 needs a CUDA device (CPU and MPS frames render fp32)")
    if device.type == "cuda":                        # fp32 rows are fp32: no TF32 in matmuls and convolutions
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    impls = _list(args.impls, [""])
    frames = args.frames or (2 if args.quick else 5)
    start = time.perf_counter()
    meta = machine(device)
    results = []
    for family, res, precision in plan(args, families, precisions, device):
        for impl in impls:
            elapsed = time.perf_counter() - start
            if args.stop is not None and elapsed > args.stop:
                results.append(not_measured(family, res, precision, impl, modes,
                                            f"out of time ({args.stop:g} s)"))
                continue
            late = args.budget is not None and elapsed > args.budget
            run_modes = [m for m in modes if m == "eager" or not late]
            r = bench_config(family, res, device, precision, impl or None, run_modes, frames, args.quick,
                             args.backend)
            for m in modes if late else ():
                r["modes"].setdefault(m, {"skipped": f"compile budget of {args.budget:g} s spent"})
            results.append(r)
            rows = format_table([r]).splitlines()
            print("\n".join(rows if len(results) == 1 else rows[2:]), flush=True)
    write_outputs(args, results, meta)
    if not any("frame_ms" in m for r in results for m in r["modes"].values()):
        print("no configuration could be measured", file=sys.stderr)
        return 1
    return 0
