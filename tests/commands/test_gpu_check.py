"""scripts/gpu-check cannot rot: its CPU smoke run goes through every step (the gpu tests collected and
skipped, the op table, the frame table, the summary) on an interpreter that, like the lent GPU machine,
has none of netblend's optional packages (aiohttp, mido, pyglet, PIL, platformdirs, ... are blocked)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABSENT_ON_THE_GPU_MACHINE = ("aiohttp", "mido", "rtmidi", "pyglet", "pythonosc", "av", "PIL", "platformdirs",
                             "sounddevice", "jack", "cyndilib", "zeroconf", "playwright", "pythonoscquery")


@pytest.mark.slow
def test_gpu_check_runs_every_step_on_the_cpu_with_only_what_the_gpu_machine_has(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys
        class Absent:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {ABSENT_ON_THE_GPU_MACHINE!r}:
                    raise ModuleNotFoundError(f"not on the GPU machine: {{name}}", name=name)
        sys.meta_path.insert(0, Absent())
    """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETBLEND_")}
    env["PYTHONPATH"] = str(blocker)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu-check"), "--device", "cpu", "--quick", "--out",
                           str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "| pytest -m gpu | ok |" in done.stdout and "| frame table | ok |" in done.stdout
    tests = (out / "pytest.txt").read_text()
    skipped = int(re.search(r"(\d+) skipped", tests).group(1))
    assert skipped >= 40 and "error" not in tests.lower()           # every gpu test collected, none broken
    assert "tests/show/test_frame_gpu.py" in tests or skipped >= 40
    ops = json.loads((out / "ops.json").read_text())
    assert {row["impl"] for row in ops} == {"ref", "fast"}
    frames = json.loads((out / "frames.json").read_text())
    assert [(r["family"], r["resolution"]) for r in frames["results"]] == [("sg2", 64), ("sg3t", 32)]
    for r in frames["results"]:
        assert r["modes"]["eager"]["frame_ms"] > 0 and r["modes"]["compiled"]["ran"] == "compiled"
        assert r["modes"]["graph"] == {"skipped": "CUDA graphs need a CUDA device (this show runs on cpu)"}
    assert (out / "frames.md").read_text().count("| sg2@64 |") == 3
    assert "sg2@1024 <= 2 ms: not measured" in (out / "summary.md").read_text()
    assert not (out / "home").exists() or not any((out / "home").iterdir())   # nothing written as user state


def test_gpu_check_finds_the_gpu_tests_by_reading_them():
    files = subprocess.run([sys.executable, "-c", "import runpy; ns = runpy.run_path('scripts/gpu-check', "
                            "run_name='gpu_check'); print('\\n'.join(ns['gpu_test_files']()))"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert "tests/show/test_frame_gpu.py" in files and "tests/ops/test_gpu_kernels.py" in files
    assert "tests/show/test_frame_path.py" not in files                # no gpu test there
