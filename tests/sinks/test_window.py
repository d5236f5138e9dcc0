"""A real pyglet window under Xvfb (or the desktop's display), with pixels read back."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, missing_resource

pytestmark = pytest.mark.display


def run_under_display(config, tmp_path: Path) -> dict:
    probe = [sys.executable, str(Path(__file__).with_name("window_probe.py")), str(tmp_path / "out.npz")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYGLET_HEADLESS", None)
    if os.environ.get("DISPLAY"):
        cmd = probe
    elif shutil.which("xvfb-run"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *probe]
    else:
        missing_resource(config, "display", "no DISPLAY and no xvfb-run (apt-get install xvfb xauth)")
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return dict(np.load(tmp_path / "out.npz"))


def test_window_shows_exactly_the_frame_sent_and_keys_drive_the_show(request, tmp_path):
    out = run_under_display(request.config, tmp_path)
    # The last frame sent is what the window shows, pixel for pixel (not the first, not black).
    assert out["shown"].shape == out["sent"].shape
    assert np.array_equal(out["shown"], out["sent"])
    assert not np.array_equal(out["shown"], out["first"])
    # space paused, p fired panic, Esc asked the loop to stop.
    assert out["pause"] == 1.0
    assert out["panic"] == 1
    assert out["closed"] == 1
    # h turned the overlay on: some pixels differ from the frame (text and mask bars).
    changed = np.any(out["with_overlay"] != out["first"], axis=-1)
    assert 0.001 < changed.mean() < 0.5
