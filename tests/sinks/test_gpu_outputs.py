"""Outputs on a real GPU: owned frame buffers filled by asynchronous copies, the pinned readback on
the renderer's own device, the fit on the device, and the window through CUDA-GL interop.

Skipped without a GPU (``--require-gpu`` makes that a failure); the CPU halves of these checks are in
test_delivery.py, test_window.py and tests/show/test_frame_fit.py."""

import numpy as np
import pytest
import torch

from engine.show.fit import FrameFit
from engine.show.render import HostReadback
from engine.sinks.base import Frame, Sink

pytestmark = pytest.mark.gpu


class Keep(Sink):
    name = "keep"

    def __init__(self):
        super().__init__()
        self.lossless = True
        self.waiting_frames = 3
        self.seen = []

    def _send(self, frame):
        self.seen.append((frame.index, frame.numpy().copy()))


def test_a_sink_keeps_whole_frames_while_the_device_buffer_is_redrawn(device):
    if device != "cuda":
        pytest.skip("asynchronous pinned copies are CUDA's")
    buffer = torch.zeros(256, 256, 4, dtype=torch.uint8, device=device)     # the renderer's reused buffer
    big = torch.rand(2048, 2048, device=device)
    sink = Keep().open(256, 256)
    for i in range(30):
        buffer.fill_(i)
        sink.send(Frame(buffer, i))
        big @ big                                                            # the next frame's work, queued
        buffer.fill_(255)                                                    # and its drawing
    sink.close()
    assert [i for i, _ in sink.seen] == list(range(30))
    assert all((px == i).all() for i, px in sink.seen)


def test_the_readback_follows_the_renderers_device_not_the_current_one(device):
    if device != "cuda":
        pytest.skip("CUDA only")
    gpus = [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    target = gpus[-1]                                                        # cuda:1 where there are two
    with torch.cuda.device(gpus[0]):
        readback = HostReadback(target, (64, 64, 4))
        pixels = torch.zeros(64, 64, 4, dtype=torch.uint8, device=target)
        for i in range(20):
            pixels.fill_(i)
            readback.start(pixels)
            assert (readback.wait() == i).all()
    assert readback.host.is_pinned()


def test_the_fit_on_the_device_equals_the_cpu_and_allocates_nothing(device):
    img = torch.rand(1, 3, 256, 256) * 2 - 1
    frames = {}
    for dev in ("cpu", device):
        rgba = torch.empty((360, 640, 4), dtype=torch.uint8, device=dev)
        fit, src = FrameFit((256, 256), rgba, "fit"), img.to(dev)
        frames[dev] = fit(src).cpu().numpy()
    assert np.abs(frames["cpu"].astype(int) - frames[device].astype(int)).max() <= 1
    if device == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        for _ in range(50):
            fit(src)
        torch.cuda.synchronize()
        assert torch.cuda.memory_allocated() == before


@pytest.mark.display
def test_the_window_takes_cuda_frames_by_interop_and_shows_them_exactly(request, tmp_path, device):
    if device != "cuda":
        pytest.skip("CUDA-GL interop is CUDA's")
    import os
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import ROOT, missing_resource

    if not os.environ.get("DISPLAY") and not os.environ.get("PYGLET_HEADLESS"):
        missing_resource(request.config, "display", "interop needs NVIDIA's GL: a desktop or PYGLET_HEADLESS=true")
    out = tmp_path / "out.npz"
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("interop_probe.py")), str(out)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    shown = dict(np.load(out))
    if "NVIDIA" not in str(shown["vendor"]):
        missing_resource(request.config, "display", f"GL runs on {shown['vendor']}, not NVIDIA's driver")
    assert str(shown["note"]) == "", str(shown["note"])                   # no fallback taken
    assert np.array_equal(shown["shown"], shown["sent"])
