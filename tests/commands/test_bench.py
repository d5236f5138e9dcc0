"""`netblend bench` does not mislead (issue #13, finding 7): the timed frame includes a blend that changes
every frame, each row says in which dtype the layers really ran, eager / compiled / graph side by side
(a mode that cannot run says why), per stage, JSON and Markdown; ``--features`` puts each toolkit feature
off and on side by side."""

from __future__ import annotations

import json

import pytest
import torch

from engine.cli import main
from engine.show import benchmark
from engine.show.frame import synchronize


def test_bench_measures_eager_and_compiled_side_by_side_and_says_why_graphs_cannot_run(tmp_path, capsys):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "bench.md"
    assert main(["bench", "--device", "cpu", "--quick", "--configs", "sg2@64", "--backend", "aot_eager",
                 "--frames", "3", "--json", str(out_json), "--markdown", str(out_md)]) == 0
    report = json.loads(out_json.read_text())
    assert report["device"] == "cpu" and report["tf32"] is False and report["torch"] == torch.__version__
    (row,) = report["results"]
    assert (row["family"], row["resolution"], row["precision"]) == ("sg2", 64, "fp32")
    assert row["layer_dtypes"] == {"float32": 10}                     # seen on a frame, not assumed
    eager, compiled, graph = (row["modes"][m] for m in ("eager", "compiled", "graph"))
    assert set(eager["stages_ms"]) == {"blend", "mapping", "synthesis", "convert", "readback"}
    assert set(compiled["stages_ms"]) == {"blend", "mapping", "frame", "readback"}
    assert compiled["ran"] == "compiled" and eager["ran"] == "eager"  # the compiled program really served
    for m in (eager, compiled):
        assert m["frame_ms"] > 0 and m["stages_ms"]["blend"] > 0 and 0 < m["blend_share"] < 1
        assert m["control_ms"] > 0
    assert compiled["speedup_vs_eager"] == pytest.approx(eager["frame_ms"] / compiled["frame_ms"])
    assert graph == {"skipped": "CUDA graphs need a CUDA device (this show runs on cpu)"}
    table = out_md.read_text().splitlines()
    assert table[2].startswith("| config | precision (layers) | impl | mode | ms/frame |")
    assert [line.split(" | ")[3] for line in table[4:]] == ["eager", "compiled", "graph"]
    assert "not measured: CUDA graphs need a CUDA device" in table[6]
    assert "sg2@64  fp32 (0/10 half)" in capsys.readouterr().out


def test_every_timed_frame_rewrites_the_blended_weights(monkeypatch):
    from engine.blend.stacks import WeightStacks

    written = []
    original = WeightStacks.write
    monkeypatch.setattr(WeightStacks, "write", lambda self, rows: written.append(original(self, rows)) or written[-1])
    show = benchmark.bench_show("sg2", 32, torch.device("cpu"), quick=True)
    try:
        synthesis_keys = int((show.renderer.blended._stacks.segment == 0).sum())
        before = len(written)
        results = benchmark.bench_modes(show, ["eager"], frames=3)
    finally:
        show.close()
    assert results["eager"]["frame_ms"] > 0
    # the warm-up frame, then frames 0-3 of the timing loop: each moves the curve, so every synthesis
    # layer's weights are rewritten (the worst case, and what a moving mask costs)
    assert written[before + 1:before + 5] == [synthesis_keys] * 4


def test_fp16_off_cuda_and_bad_configs_are_one_line_errors(capsys):
    assert main(["bench", "--device", "cpu", "--precision", "fp16", "--quick"]) == 2
    assert "--precision fp16 needs a CUDA device" in capsys.readouterr().err
    assert main(["bench", "--device", "cpu", "--configs", "sg2-1024"]) == 2
    assert "write FAMILY@SIZE or FAMILY@SIZE/PRECISION" in capsys.readouterr().err
    assert main(["bench", "--device", "cpu", "--modes", "turbo"]) == 2
    assert "--modes: unknown turbo" in capsys.readouterr().err


def test_timings_wait_for_the_device_on_cuda_and_mps(monkeypatch):
    waited = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: waited.append("mps"))
    for kind in ("cpu", "cuda", "mps"):
        synchronize(torch.device(kind))
    assert waited == ["cuda", "mps"]


def test_the_command_knows_the_benchmark_families_and_modes():
    from engine.commands import bench

    assert bench.FAMILIES == benchmark.FAMILIES and bench.MODES == benchmark.MODES


@pytest.mark.slow
def test_features_puts_each_toolkit_feature_off_and_on_side_by_side(tmp_path, capsys):
    out = tmp_path / "features.json"
    assert main(["bench", "--features", "--device", "cpu", "--quick", "--json", str(out)]) == 0
    meta, *rows = json.loads(out.read_text())
    assert meta["device"] == "cpu" and meta["rounds"] == 1
    assert [r["feature"] for r in rows] == ["directions", "channel blending", "network bending", "4 LFOs",
                                            "preview sink"]
    for r in rows:
        assert r["off_ms"] > 0 and r["on_ms"] > 0
        assert r["cost_ms"] == pytest.approx(r["on_ms"] - r["off_ms"])
    assert "network bending" in capsys.readouterr().out
