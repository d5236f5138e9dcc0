"""Op timings at the shapes of real generators, impl by impl.

``bench_ops`` runs every op call one frame of the generator makes, once with ``impl='ref'`` and once
with ``impl='fast'`` on the same input values (StyleGAN2's in the memory layout each impl keeps
between layers), and reports the summed milliseconds per frame and their
ratio, plus the largest difference between the two results. Random weights; batch 1.

``bench_impls`` puts ref, fast, triton and cuda side by side per op and model, in fp32 and fp16: the
dtype column is the dtype the op really ran in (its inputs are converted and its output is checked),
each row's error is against 'ref' in fp32 on the same input values, and an impl that cannot run here
gets a row saying why instead of a time.

Run directly: ``python -m stylegan_ops.benchmark [--quick] [--device cpu] [--impls ref,fast,triton,cuda]
[--dtypes fp32,fp16]``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .bias_act import bias_act
from .filtered_lrelu import filtered_lrelu
from .modulated_conv import fast_layout, modulated_conv2d, modulated_conv2d_sg3
from .upfirdn2d import setup_filter, upsample2d


@dataclass(frozen=True)
class Sg3Layer:
    """Geometry of one StyleGAN3 synthesis layer (derived as the official config does)."""

    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    up: int
    down: int
    up_taps: int
    down_taps: int
    kernel: int
    padding: tuple[int, int, int, int]


def sg3_layers(resolution: int = 256, channel_base: int = 32768, channel_max: int = 512, num_layers: int = 14,
               num_critical: int = 2, margin: int = 10, filter_size: int = 6) -> list[Sg3Layer]:
    """The 15 layers (L0..L13 and ToRGB) of a StyleGAN3-T generator."""
    first_cutoff, first_stopband = 2.0, 2 ** 2.1
    last_cutoff, last_stopband = resolution / 2, resolution / 2 * 2 ** 0.3
    layers = []
    rates, sizes, channels = [], [], []
    for i in range(num_layers + 1):
        e = min(i / (num_layers - num_critical), 1.0)
        cutoff = first_cutoff * (last_cutoff / first_cutoff) ** e
        stopband = first_stopband * (last_stopband / first_stopband) ** e
        rates.append(2 ** math.ceil(math.log2(min(stopband * 2, resolution))))
        sizes.append(resolution if i >= num_layers - 1 else rates[-1] + 2 * margin)
        channels.append(3 if i == num_layers else int(round(min(channel_base / 2 / cutoff, channel_max))))
    for i in range(num_layers + 1):
        prev, torgb = max(i - 1, 0), i == num_layers
        tmp_rate = max(rates[prev], rates[i]) * (1 if torgb else 2)
        up, down = round(tmp_rate / rates[prev]), round(tmp_rate / rates[i])
        up_taps = filter_size * up if up > 1 and not torgb else 1
        down_taps = filter_size * down if down > 1 and not torgb else 1
        kernel = 1 if torgb else 3
        total = (sizes[i] - 1) * down + 1 - (sizes[prev] + kernel - 1) * up + up_taps + down_taps - 2
        lo = (total + up) // 2
        layers.append(Sg3Layer(channels[prev], channels[i], sizes[prev], sizes[i], up, down, up_taps, down_taps,
                               kernel, (lo, total - lo, lo, total - lo)))
    return layers


def _sg3_calls(resolution: int, channel_base: int, channel_max: int, device: str,
               dtype: torch.dtype = torch.float32) -> dict[str, list[Callable]]:
    """op name -> calls (each taking impl) of one StyleGAN3-T frame, activations in ``dtype``."""
    gen = torch.Generator().manual_seed(0)
    calls: dict[str, list[Callable]] = {"filtered_lrelu": [], "modulated_conv2d_sg3": []}
    for layer in sg3_layers(resolution, channel_base, channel_max):
        size = layer.in_size + layer.kernel - 1
        x = torch.randn(1, layer.out_channels, size, size, generator=gen).to(device, dtype)
        fu, fd = (setup_filter(torch.rand(taps, generator=gen), device, separable=True) if taps > 1 else None
                  for taps in (layer.up_taps, layer.down_taps))  # separable low-pass taps, as config T uses
        b = torch.randn(layer.out_channels, generator=gen).to(device)
        gain, slope = (1.0, 1.0) if layer.kernel == 1 else (math.sqrt(2), 0.2)
        calls["filtered_lrelu"].append(
            lambda impl, x=x, fu=fu, fd=fd, b=b, la=layer, g=gain, s=slope: filtered_lrelu(
                x, fu, fd, b, up=la.up, down=la.down, padding=la.padding, gain=g, slope=s, clamp=256, impl=impl))
        xin = torch.randn(1, layer.in_channels, layer.in_size, layer.in_size, generator=gen).to(device, dtype)
        w = torch.randn(layer.out_channels, layer.in_channels, layer.kernel, layer.kernel, generator=gen).to(device)
        st = torch.randn(1, layer.in_channels, generator=gen).to(device)
        calls["modulated_conv2d_sg3"].append(
            lambda impl, x=xin, w=w, st=st, la=layer: modulated_conv2d_sg3(
                x, w, st, demodulate=la.kernel > 1, padding=la.kernel - 1, impl=impl))
    return calls


def _as_kept(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """``x`` per impl in the layout that impl's previous layer leaves it in (fast, and the kernels that
    follow its formulation: ``fast_layout``), so no impl is charged a layout copy a real frame never makes."""
    kept = x.contiguous(memory_format=fast_layout(x))
    return {"ref": x, "fast": kept, "triton": kept, "cuda": kept}


def _sg2_calls(resolution: int, channel_base: int, channel_max: int, device: str,
               dtype: torch.dtype = torch.float32) -> dict[str, list[Callable]]:
    """op name -> calls (each taking impl) of one StyleGAN2 frame (skip architecture), activations in ``dtype``."""
    gen = torch.Generator().manual_seed(0)
    f = setup_filter([1, 3, 3, 1], device)
    calls: dict[str, list[Callable]] = {"modulated_conv2d": [], "bias_act": [], "upsample2d": []}
    res = 4
    while res <= resolution:
        cin = min(channel_base // (res // 2 if res > 4 else 4), channel_max)
        cout = min(channel_base // res, channel_max)
        for up, c_in in ([(2, cin)] if res > 4 else []) + [(1, cout)]:
            x = _as_kept(torch.randn(1, c_in, res // up, res // up, generator=gen).to(device, dtype))
            w = torch.randn(cout, c_in, 3, 3, generator=gen).to(device)
            st = torch.randn(1, c_in, generator=gen).to(device)
            noise = torch.randn(1, 1, res, res, generator=gen).to(device, dtype)
            calls["modulated_conv2d"].append(
                lambda impl, x=x, w=w, st=st, up=up, n=noise: modulated_conv2d(
                    x[impl], w, st, noise=n, up=up, padding=1, resample_filter=f, flip_weight=up == 1, impl=impl))
            y = _as_kept(torch.randn(1, cout, res, res, generator=gen).to(device, dtype))
            b = torch.randn(cout, generator=gen).to(device)
            calls["bias_act"].append(lambda impl, y=y, b=b: bias_act(y[impl], b, act="lrelu", clamp=256, impl=impl))
        w_rgb = torch.randn(3, cout, 1, 1, generator=gen).to(device)
        x_rgb = _as_kept(torch.randn(1, cout, res, res, generator=gen).to(device, dtype))
        st_rgb = torch.randn(1, cout, generator=gen).to(device)
        calls["modulated_conv2d"].append(
            lambda impl, x=x_rgb, w=w_rgb, st=st_rgb: modulated_conv2d(x[impl], w, st, demodulate=False, impl=impl))
        if res > 4:
            img = _as_kept(torch.randn(1, 3, res // 2, res // 2, generator=gen).to(device, dtype))
            calls["upsample2d"].append(lambda impl, img=img: upsample2d(img[impl], f, impl=impl))
        res *= 2
    return calls


def _time_calls(calls: list[Callable], impl: str, repeats: int, device: str) -> tuple[float, list[torch.Tensor]]:
    """Best-of-``repeats`` milliseconds for running all calls once, and their outputs."""
    sync = {"cuda": torch.cuda.synchronize, "mps": lambda: torch.mps.synchronize()}.get(torch.device(device).type,
                                                                                      lambda: None)
    outputs = [call(impl) for call in calls]  # warm-up
    best = math.inf
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        for call in calls:
            call(impl)
        sync()
        best = min(best, time.perf_counter() - start)
    return best * 1e3, outputs


def bench_ops(device: str = "cpu", quick: bool = False) -> list[dict]:
    """Time ref vs fast for each op over one frame of StyleGAN3-T and StyleGAN2.

    Full: StyleGAN3-T-256 at its default channels (32768/512) and StyleGAN2-256 at channel_base 8192,
    channel_max 256, best of 3. Quick (CI): StyleGAN3-T-64 and StyleGAN2-64 at small channels, one run.
    Returns one dict per (model, op): model, op, calls, ref_ms, fast_ms, speedup (ref/fast), max_abs_diff.
    """
    if quick:
        models = {"stylegan3-t-64": _sg3_calls(64, 2048, 64, device), "stylegan2-64": _sg2_calls(64, 1024, 64, device)}
    else:
        models = {"stylegan3-t-256": _sg3_calls(256, 32768, 512, device),
                  "stylegan2-256": _sg2_calls(256, 8192, 256, device)}
    repeats = 1 if quick else 3
    rows = []
    with torch.inference_mode():
        for model, ops in models.items():
            for op, calls in ops.items():
                ref_ms, ref_out = _time_calls(calls, "ref", repeats, device)
                fast_ms, fast_out = _time_calls(calls, "fast", repeats, device)
                diff = max(float((a - b).abs().max()) for a, b in zip(ref_out, fast_out))
                rows.append({"model": model, "op": op, "calls": len(calls), "device": device,
                             "ref_ms": round(ref_ms, 2), "fast_ms": round(fast_ms, 2),
                             "speedup": round(ref_ms / fast_ms, 2), "max_abs_diff": diff})
    return rows


DTYPES = {"fp32": torch.float32, "fp16": torch.float16}
IMPLS = ("ref", "fast", "triton", "cuda")


def _unavailable(impl: str, device: str) -> str | None:
    """Why ``impl`` cannot run on ``device`` here (None: it can); builds the CUDA extension if needed."""
    from .backends import OpUnavailableError, require_cuda, require_triton

    try:
        if impl == "triton":
            require_triton(torch.device(device))
        elif impl == "cuda":
            require_cuda(torch.device(device))
            from .cuda import build

            build()
    except OpUnavailableError as err:
        return str(err)
    return None


def bench_impls(device: str = "cpu", impls: tuple[str, ...] = IMPLS, dtypes: tuple[str, ...] = ("fp32", "fp16"),
                quick: bool = False, repeats: int = 3, sizes: tuple[int, ...] | None = None) -> list[dict]:
    """Time every impl of every op over one frame of StyleGAN3-T and StyleGAN2, per dtype.

    Models as ``bench_ops`` (quick: the 64 px ones; ``sizes``: (SG3 resolution, channel_base, channel_max,
    SG2 resolution, channel_base, channel_max) instead). Returns one dict per (model, op, dtype, impl):
    ``ms`` (best of ``repeats``, synchronised), ``vs_ref`` (ref's time / this one's, same dtype) and
    ``max_rel_err`` (max |out - ref_fp32| / max(1, max |ref_fp32|) over the frame's calls), or
    ``unavailable`` with the reason. Impls that an op does not have run their documented fallback
    (e.g. upsample2d with 'cuda' runs 'fast'): the row says which op ran which code only by its name.
    """
    r3, base3, max3, r2, base2, max2 = sizes or ((64, 2048, 64, 64, 1024, 64) if quick else
                                                 (256, 32768, 512, 256, 8192, 256))
    why_not = {impl: _unavailable(impl, device) for impl in impls}
    rows = []
    with torch.inference_mode():
        reference = {**_sg3_calls(r3, base3, max3, device), **_sg2_calls(r2, base2, max2, device)}
        for label in dtypes:
            dtype = DTYPES[label]
            calls = {**_sg3_calls(r3, base3, max3, device, dtype), **_sg2_calls(r2, base2, max2, device, dtype)}
            for op, op_calls in calls.items():
                model = f"stylegan3-t-{r3}" if op in ("filtered_lrelu", "modulated_conv2d_sg3") else f"stylegan2-{r2}"
                ref32 = [call("ref").float() for call in reference[op]]
                ref_ms = None
                for impl in impls:
                    row = {"model": model, "op": op, "dtype": label, "impl": impl, "calls": len(op_calls),
                           "device": device}
                    if why_not[impl] is not None:
                        rows.append({**row, "unavailable": why_not[impl]})
                        continue
                    ms, outs = _time_calls(op_calls, impl, 1 if quick else repeats, device)
                    assert all(out.dtype == dtype for out in outs), f"{op} {impl} did not run in {label}"
                    ref_ms = ms if impl == "ref" else ref_ms
                    err = max(float((o.float() - r).abs().max()) / max(1.0, float(r.abs().max()))
                              for o, r in zip(outs, ref32))
                    rows.append({**row, "ms": round(ms, 3), "vs_ref": None if ref_ms is None else round(ref_ms / ms, 2),
                                 "max_rel_err": err})
    return rows


def format_impl_rows(rows: list[dict]) -> str:
    """``bench_impls`` rows as a Markdown table."""
    lines = ["| model | op | dtype | impl | ms | ref/impl | max rel err |", "|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        if "unavailable" in r:
            lines.append(f"| {r['model']} | {r['op']} | {r['dtype']} | {r['impl']} | n/a: {r['unavailable']} | | |")
        else:
            ratio = "" if r["vs_ref"] is None else f"{r['vs_ref']:.2f}"
            lines.append(f"| {r['model']} | {r['op']} | {r['dtype']} | {r['impl']} | {r['ms']:.2f} | {ratio} | "
                         f"{r['max_rel_err']:.1e} |")
    return "\n".join(lines)


def main() -> None:
    """Print the table (and optionally the JSON) of ``bench_ops``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--impls", help="comma-separated impls side by side (ref,fast,triton,cuda), per dtype")
    parser.add_argument("--dtypes", default="fp32,fp16", help="with --impls: fp32, fp16 or both")
    args = parser.parse_args()
    if args.impls:
        impl_rows = bench_impls(args.device, tuple(args.impls.split(",")), tuple(args.dtypes.split(",")), args.quick)
        print(json.dumps(impl_rows, indent=2) if args.json else format_impl_rows(impl_rows))
        return
    rows = bench_ops(args.device, args.quick)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'model':<17}{'op':<22}{'calls':>6}{'ref ms':>10}{'fast ms':>10}{'ref/fast':>10}{'max diff':>11}")
    for r in rows:
        print(f"{r['model']:<17}{r['op']:<22}{r['calls']:>6}{r['ref_ms']:>10.1f}{r['fast_ms']:>10.1f}"
              f"{r['speedup']:>10.2f}{r['max_abs_diff']:>11.2e}")


if __name__ == "__main__":
    main()
