"""bench_ops (what `netblend bench` reuses) reports every op with ref and fast results that agree."""

from __future__ import annotations

import json

from stylegan_ops import bench_ops
from stylegan_ops.benchmark import bench_impls, format_impl_rows, sg3_layers


def test_sg3_geometry_matches_the_official_layout(oracle):
    """The benchmark's StyleGAN3-T shapes are the official ones (checked on the oracle's layout)."""
    official = json.loads((oracle / "sg3t_64_A.json").read_text())["synthesis"]["layers"]
    ours = sg3_layers(64, channel_base=1024, channel_max=64)
    assert len(ours) == len(official)
    for la, ref in zip(ours, official):
        assert (la.in_channels, la.out_channels, la.in_size, la.out_size) == (
            ref["in_channels"], ref["out_channels"], ref["in_size"][0], ref["out_size"][0]), ref["name"]
        assert (la.up, la.down, la.up_taps, la.down_taps, la.kernel) == (
            ref["up_factor"], ref["down_factor"], ref["up_taps"], ref["down_taps"], ref["conv_kernel"]), ref["name"]
        assert list(la.padding) == ref["padding"], ref["name"]


def test_quick_bench_reports_ref_and_fast_per_op():
    rows = bench_ops("cpu", quick=True)
    ops = {(r["model"], r["op"]) for r in rows}
    assert ("stylegan3-t-64", "filtered_lrelu") in ops and ("stylegan2-64", "modulated_conv2d") in ops
    for r in rows:
        assert r["ref_ms"] > 0 and r["fast_ms"] > 0 and r["speedup"] > 0
        assert r["max_abs_diff"] < 1e-3, r


def test_impl_table_runs_each_dtype_for_real_and_says_why_an_impl_cannot_run(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    rows = bench_impls("cpu", ("ref", "fast", "triton"), ("fp32", "fp16"), quick=True, repeats=1,
                       sizes=(16, 128, 8, 16, 128, 8))
    timed = [r for r in rows if "ms" in r]
    assert {(r["dtype"], r["impl"]) for r in timed} == {("fp32", "ref"), ("fp32", "fast"), ("fp16", "ref"),
                                                        ("fp16", "fast")}
    for r in timed:  # fp16 rows ran in fp16 (checked inside); errors are against ref in fp32
        assert r["ms"] > 0 and r["max_rel_err"] < (1e-5 if r["dtype"] == "fp32" else 4e-3), r
    skipped = [r for r in rows if r["impl"] == "triton"]
    assert skipped and all("runs on CUDA tensors" in r["unavailable"] or "needs the triton package" in r["unavailable"]
                           for r in skipped)
    assert "| stylegan2-16 | upsample2d | fp16 | fast |" in format_impl_rows(rows)
