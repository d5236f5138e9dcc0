"""Tiny files that used to exhaust memory or never finish: ``netblend inspect`` refuses each in a fraction
of a second, with memory that stays flat (asserted on the child process's own peak RSS, from wait4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.models.hostile_files import CASES, make_base, nested_stream_bomb, rosinality_zip_bomb
from tests.models.official_pickle import write_official_pickle

ROOT = Path(__file__).resolve().parents[2]
BOMBS = ("kwargs_list_dag", "kwargs_list_dag_deep", "modules_dag", "w_dim_too_big_for_weights",
         "mapping_layers_huge", "sg3_layers_huge", "c_dim_huge", "tensor_build_zero_stride", "fifo")
INFLATED = 1 << 30              # the two decompression bombs inflate to 1 GiB (from about 1 MB)
SECONDS_EACH = 2.0              # per file, measured inside the child
EXTRA_MEMORY = 200 << 20        # peak RSS over the child's own baseline (a valid model inspected first)
CHILD_TIMEOUT = 120

CHILD = """
import contextlib, io, json, resource, sys, time
from engine.cli import main

def inspect(path):
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["inspect", path])
    return {"rc": rc, "err": err.getvalue(), "seconds": time.perf_counter() - start}

files = json.loads(sys.argv[1])
valid = inspect(files.pop("valid"))
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
results = {}
for name, path in files.items():
    print("started", name, file=sys.stderr, flush=True)
    results[name] = inspect(path)
print(json.dumps({"valid": valid, "baseline": baseline, "results": results}))
"""


def _run_child(files: dict[str, str], folder: Path) -> tuple[dict, int]:
    """Run CHILD; (its report, its peak RSS in bytes). Fails naming the file it hung on."""
    out, err = folder / "child.out", folder / "child.err"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(out, "w") as stdout, open(err, "w") as stderr:
        child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(files)], stdout=stdout, stderr=stderr,
                                 cwd=ROOT, env=env)
    deadline = time.monotonic() + CHILD_TIMEOUT
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            os.kill(child.pid, signal.SIGKILL)
            os.wait4(child.pid, 0)
            started = [line for line in err.read_text().splitlines() if line.startswith("started")]
            pytest.fail(f"inspect did not finish within {CHILD_TIMEOUT} s; last: {started[-1:]}")
        time.sleep(0.05)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, err.read_text()[-2000:]
    return json.loads(out.read_text().splitlines()[-1]), usage.ru_maxrss * 1024


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.skipif(sys.platform != "linux", reason="FIFOs and ru_maxrss in KiB are Linux behaviour")
def test_tiny_hostile_files_are_refused_fast_with_flat_memory(tmp_path):
    base = make_base()
    files = {"valid": str(write_official_pickle(tmp_path / "valid.pkl", base.sg2_kwargs, base.sg2))}
    for name in BOMBS:
        folder = tmp_path / name
        folder.mkdir()
        files[name] = str(CASES[name][0](folder, base))
    for name, writer in (("nested_stream_bomb", nested_stream_bomb), ("rosinality_zip_bomb", rosinality_zip_bomb)):
        folder = tmp_path / name
        folder.mkdir()
        path = writer(folder, base, nbytes=INFLATED)
        assert path.stat().st_size < INFLATED // 256                  # ~1 MB that inflates to 1 GiB
        files[name] = str(path)

    report, peak = _run_child(files, tmp_path)

    assert report["valid"]["rc"] == 0, report["valid"]["err"]
    for name, result in report["results"].items():
        words = CASES[name][1]
        assert result["rc"] == 2, (name, result["err"])
        line = result["err"].strip()
        assert line.startswith("netblend: error: ") and "\n" not in line and files[name] in line, (name, line)
        assert all(word in line for word in words), (name, line)
        assert result["seconds"] < SECONDS_EACH, (name, result["seconds"])
    grown = peak - report["baseline"]
    assert grown < EXTRA_MEMORY, f"peak RSS grew by {grown / 2**20:.0f} MiB over the baseline"
