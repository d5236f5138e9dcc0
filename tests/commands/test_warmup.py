"""`netblend warmup` prepares a show: models, kernels, the compiled frame into the on-disk compile cache
(so the show itself starts without compiling), and says how fast the frames are."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.models.build import build_generator
from engine.models.loaders import save_generator
from tests.helpers import TINY

ROOT = Path(__file__).resolve().parents[2]


def test_warmup_renders_and_reports_the_steady_frame(saved, capsys):
    assert main(["warmup", saved["sg2_64_A"], saved["sg2_64_B"], "--device", "cpu", "--frames", "2",
                 "--compile", "off"]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"ready on cpu: models loaded in [\d.]+ s, warmed up in [\d.]+ s; [\d.]+ ms per frame "
                        r"\([\d.]+ fps\) at 64x64, \d CPU threads", line), line


def test_warmup_says_why_a_cuda_graph_cannot_run_here(saved, capsys, caplog):
    assert main(["warmup", saved["small"], "--device", "cpu", "--frames", "2", "--compile", "off",
                 "--cuda-graph", "on"]) == 0
    assert any("--cuda-graph on: CUDA graphs need a CUDA device (this show runs on cpu)" in r.getMessage()
               for r in caplog.records)
    assert "ready on cpu" in capsys.readouterr().out


@pytest.mark.slow
def test_a_second_warmup_reuses_the_compiled_frame_from_the_disk_cache(tmp_path):
    """Two processes sharing one cache folder: the first compiles, the second reuses every graph."""
    model = save_generator(build_generator({**TINY, "img_resolution": 16}), tmp_path / "tiny.netblend.safetensors")
    env = dict(os.environ, NETBLEND_CACHE=str(tmp_path / "cache"), NETBLEND_HOME=str(tmp_path / "home"),
               PYTHONPATH=str(ROOT))
    env.pop("TORCHINDUCTOR_CACHE_DIR", None)
    env.pop("TRITON_CACHE_DIR", None)
    counts, outputs = [], []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "engine", "warmup", str(model), "--device", "cpu", "--frames",
                               "2", "--compile", "on"], env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        found = re.search(r"1 compiled frame\(s\) ready; compile cache (\S+): (\d+) graphs reused, (\d+) compiled now",
                          done.stdout)
        assert found, done.stdout + done.stderr
        assert Path(found.group(1)) == tmp_path / "cache" / "compile" / "inductor"
        counts.append((int(found.group(2)), int(found.group(3))))
        outputs.append(done.stdout)
    (first_hits, first_misses), (second_hits, second_misses) = counts
    assert first_misses >= 1 and second_misses == 0 and second_hits >= 1, outputs
