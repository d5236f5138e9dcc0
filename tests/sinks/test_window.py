"""A real pyglet window under Xvfb (or the desktop's display), with pixels read back."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, missing_resource


def run_under_display(config, tmp_path: Path, script: str = "window_probe.py") -> dict:
    probe = [sys.executable, str(Path(__file__).with_name(script)), str(tmp_path / "out.npz")]
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


@pytest.mark.display
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


def luminance(img: np.ndarray) -> np.ndarray:
    return img[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])


def panel(img: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """The pixels of the overlay's panel (bounds are GL coordinates: y up from the bottom)."""
    x, y, w, h = (int(round(v)) for v in bounds)
    height = img.shape[0]
    return img[height - (y + h) + 2:height - y - 2, x + 2:x + w - 2]


@pytest.fixture(scope="module")
def overlay_probe(request, tmp_path_factory):
    """One run of overlay_probe.py (under Xvfb) for the overlay and kiosk tests."""
    return run_under_display(request.config, tmp_path_factory.mktemp("overlay"), "overlay_probe.py")


@pytest.mark.display
def test_the_overlay_reads_on_a_white_frame_and_scales_with_fullscreen(overlay_probe):
    out = overlay_probe
    texts = list(out["texts"])
    assert texts[0].strip() == "43.7 fps   PAUSED"
    assert texts[1] == "seed 42  preset dusk  walk slerp, 4 s  128.0 BPM"
    assert texts[2] == "pickup blend.layer.3: move up to 75% (at 20%)"
    assert list(out["numbers"]) == [str(i) for i in range(8)]                 # layer numbers under the bars
    for size in ("small", "full"):
        img, area = out[size], panel(out[size], out[f"{size}_bounds"])
        lum = luminance(area)
        assert np.median(lum) < 90                                   # a dark panel on a white frame ...
        assert (lum > 200).mean() > 0.01                             # ... with bright text and bars on it
        assert (luminance(img) > 250).mean() > 0.3                   # and the white frame around it
        orange = (area[..., 0] > 200) & (area[..., 1] > 100) & (area[..., 1] < 220) & (area[..., 2] < 120)
        assert orange.sum() > 10                                     # the pickup warning and the bars
        red = (area[..., 0] > 200) & (area[..., 1] < 110) & (area[..., 2] < 110)
        assert red.sum() > 10                                        # overblend bars (1.6 and -0.4)
    small_h, full_h = out["small_bounds"][3], out["full_bounds"][3]
    assert out["full"].shape[0] == 1024                              # fullscreen on the 1280x1024 screen
    assert 1.8 < full_h / small_h < 3.0                              # the overlay grew with the screen
    assert out["cursor_windowed"] and not out["cursor_fullscreen"] and out["cursor_back"]


@pytest.mark.display
def test_kiosk_mode_ignores_esc_keys_and_the_close_button(overlay_probe):
    out = overlay_probe
    assert out["kiosk_fullscreen"] and out["kiosk_still_fullscreen"] and not out["kiosk_cursor"]
    assert out["kiosk_pause"] == 0.0 and out["kiosk_overlay"] == 0.0 and out["kiosk_panic"] == 0
    assert not out["kiosk_closed"] and out["closed"] == 0


def test_cuda_frames_fall_back_to_the_host_copy_where_interop_cannot_run():
    """No CUDA driver here: choosing the upload for a CUDA frame gives the host copy and says why."""
    import torch

    from engine.sinks.gl_upload import CudaGlUpload, HostUpload, InteropUnavailable, choose_upload

    upload, why = choose_upload(1, 64, 48, torch.device("cpu"))
    assert isinstance(upload, HostUpload) and why is None
    upload, why = choose_upload(1, 64, 48, torch.device("cuda"), interop=False)
    assert isinstance(upload, HostUpload) and "interop is off" in why

    class NoGlDriver:                          # a driver whose GL registration fails (Mesa's GL, another GPU)
        def cuGraphicsGLRegisterImage(self, *args):
            return 219                         # CUDA_ERROR_INVALID_GRAPHICS_CONTEXT

        def cuGetErrorName(self, status, name):
            name._obj.value = b"CUDA_ERROR_INVALID_GRAPHICS_CONTEXT"
            return 0

    if torch.cuda.is_available():
        upload, why = choose_upload(1, 64, 48, torch.device("cuda"), driver=NoGlDriver())
        assert isinstance(upload, HostUpload) and "INVALID_GRAPHICS_CONTEXT" in why
    else:
        upload, why = choose_upload(1, 64, 48, torch.device("cuda"))
        assert isinstance(upload, HostUpload) and why.startswith("CUDA-GL interop unavailable")
        with pytest.raises((InteropUnavailable, RuntimeError, AssertionError)):
            CudaGlUpload(1, 64, 48, torch.device("cuda"), driver=NoGlDriver())
