"""The GPU path of a live frame: device conversion, pinned readback, no allocation in steady state."""

import numpy as np
import pytest
import torch

from engine.core.clock import FakeClock
from engine.show.build import build_renderer
from engine.show.catalog import build_registry
from engine.show.loop import RenderLoop, SinkSet
from engine.sinks.null import NullSink
from tests.helpers import tiny_pair

pytestmark = pytest.mark.gpu


def _loop(device, sinks):
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    renderer = build_renderer([m.to(device) for m in tiny_pair()], torch.device(device))
    registry = build_registry(renderer.blended)
    registry.set("latent.walk.mode", "slerp")
    return RenderLoop(registry, renderer, SinkSet(sinks), clock=FakeClock(fps=30), fps=30)


def test_gpu_frames_match_the_cpu_frames_through_the_pinned_readback(device):
    frames = {}
    for dev in ("cpu", device):
        loop = _loop(dev, [NullSink()])
        loop.sinks.open(32, 32)
        frames[dev] = [loop.step().numpy().copy() for _ in range(3)]
    for a, b in zip(frames["cpu"], frames[device]):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 2      # rounding of the uint8 conversion


def test_allocated_memory_stays_flat_over_100_frames(device):
    if device != "cuda":
        pytest.skip("memory accounting is CUDA-only")
    loop = _loop(device, [NullSink(readback=True)])
    loop.run(frames=10)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    loop.run(frames=100)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= before
