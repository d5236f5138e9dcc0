"""No sink slows the show: delivery threads, owned frame buffers, dropped frames, failures."""

import logging
import threading
import time

import numpy as np
import pytest
import torch

from engine.core.clock import Clock
from engine.show.build import build_renderer
from engine.show.catalog import build_registry
from engine.show.loop import RenderLoop, SinkSet
from engine.sinks.base import Frame, Sink, SinkError
from tests.helpers import Collect, tiny_pair


class Slow(Sink):
    """An output that takes 50 ms per frame (a congested network, a slow encoder)."""

    name = "slow"

    def __init__(self, seconds: float = 0.05):
        super().__init__()
        self.seconds = seconds
        self.seen: list[tuple[int, int, int]] = []     # (frame index, min pixel, max pixel) as delivered

    def _send(self, frame: Frame) -> None:
        time.sleep(self.seconds)
        px = frame.numpy()
        self.seen.append((frame.index, int(px[..., 0].min()), int(px[..., 0].max())))


class SlowInline(Slow):
    name = "slow-inline"
    on_render_thread = True


def real_time_loop(sinks, fps):
    renderer = build_renderer(tiny_pair(), torch.device("cpu"))
    registry = build_registry(renderer.blended)
    registry.set("latent.walk.mode", "slerp")
    return RenderLoop(registry, renderer, SinkSet(sinks), clock=Clock(), fps=fps)


def test_a_slow_sink_drops_frames_and_the_show_keeps_its_frame_rate():
    fps, seconds = 40.0, 1.0
    rates, frames = {}, {}
    slow = Slow(seconds=0.1)
    for label, sinks in (("alone", [Collect()]), ("slow", [Collect(), slow]),
                         ("slow on the render thread", [Collect(), SlowInline(seconds=0.1)])):
        loop = real_time_loop(sinks, fps)
        stats = loop.run(seconds=seconds)
        loop.sinks.close()
        rates[label], frames[label] = stats.fps, stats.frames
    # Side by side in one run: the slow sink costs the show nothing ...
    assert rates["slow"] >= 0.85 * rates["alone"], rates
    assert rates["alone"] > 0.5 * fps, rates
    # ... while the same sink on the render thread holds it to ~10 fps (so this test can fail).
    assert rates["slow on the render thread"] < 0.6 * rates["alone"], rates
    # The slow sink took what it could and counted every other frame as dropped.
    assert 0 < slow.delivered <= seconds / slow.seconds + 2
    assert slow.dropped > 0
    assert slow.delivered + slow.dropped == frames["slow"]


def test_a_sink_owns_its_frames_the_renderers_buffer_can_change_right_after_send():
    buffer = torch.zeros(8, 8, 4, dtype=torch.uint8)            # reused every frame, like the renderer's
    sink = Slow(seconds=0.01)
    sink.lossless = True                                         # offline: every frame, in order
    sink.waiting_frames = 2
    with sink.open(8, 8):
        for i in range(20):
            buffer.fill_(i)
            sink.send(Frame(buffer, i))
            buffer.fill_(255)                                    # the next frame starts drawing at once
    assert [s[0] for s in sink.seen] == list(range(20))
    assert all(lo == hi == index for index, lo, hi in sink.seen)   # no torn or overwritten frame
    assert sink.dropped == 0


def test_the_latest_frame_wins_when_a_sink_is_busy():
    sink = Slow(seconds=0.2)
    buffer = torch.zeros(4, 4, 4, dtype=torch.uint8)
    with sink.open(4, 4):
        for i in range(6):
            buffer.fill_(i)
            sink.send(Frame(buffer, i))
        assert sink.wait_idle(5)
    delivered = [s[0] for s in sink.seen]
    assert delivered[-1] == 5 and len(delivered) <= 2       # (maybe the first,) then the newest
    assert sink.dropped == 6 - len(delivered) > 0


def test_a_sink_failing_on_its_thread_is_reported_at_once_then_dropped(caplog):
    class Flaky(Sink):
        name = "flaky"

        def _send(self, frame):
            if frame.index == 2:
                raise OSError("receiver went away")

    flaky = Flaky()
    good = Collect()
    sinks = SinkSet([flaky, good])
    sinks.open(4, 4)
    buffer = torch.zeros(4, 4, 4, dtype=torch.uint8)
    with caplog.at_level(logging.ERROR, logger="netblend"):
        for i in range(3):
            sinks.send(Frame(buffer, i))
        flaky.wait_idle(5)
        assert "output flaky failed: receiver went away" in caplog.text      # logged by its own thread
    sinks.send(Frame(buffer, 3))                                             # the next frame drops it
    assert flaky not in sinks.sinks and len(good.frames) == 4
    assert "receiver went away" in sinks.dropped[0][1]
    assert flaky.failure == "receiver went away"
    with pytest.raises(SinkError, match="not open"):
        flaky.send(Frame(buffer, 4))


def test_close_delivers_what_waits_and_close_is_idempotent():
    sink = Slow(seconds=0.02)
    sink.waiting_frames = 4
    buffer = torch.zeros(4, 4, 4, dtype=torch.uint8)
    sink.open(4, 4)
    for i in range(4):
        sink.send(Frame(buffer, i))
    sink.close()
    sink.close()
    assert len(sink.seen) + sink.dropped == 4 and sink.seen[-1][0] == 3
    assert not any(t.name == "netblend-slow" for t in threading.enumerate())


def test_readback_and_copies_use_the_renderers_own_cuda_device(monkeypatch):
    """``--device cuda:1``: the pinned readback's event goes on cuda:1's stream, not on the current
    device's (cuda:0). CUDA is replaced by a recorder here; tests/show/test_gpu_outputs.py runs it."""
    from engine.show import render

    calls = []

    class FakeStream:
        def __init__(self, device):
            self.device = device

    class FakeEvent:
        def __init__(self):
            self.stream = None

        def record(self, stream=None):
            self.stream = stream if stream is not None else FakeStream(torch.device("cuda:0"))

        def synchronize(self):
            calls.append(("synchronize", self.stream.device))

    class FakeDeviceGuard:
        def __init__(self, device):
            calls.append(("device", torch.device(device)))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "device", FakeDeviceGuard)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: FakeStream(torch.device(device)))
    gpu1 = torch.device("cuda:1")
    readback = render.HostReadback(gpu1, (4, 4, 4))
    pixels = torch.arange(64, dtype=torch.uint8).reshape(4, 4, 4)
    readback.start(pixels)
    assert np.array_equal(readback.wait().numpy(), pixels.numpy())
    assert readback.copied.stream.device == gpu1
    assert calls == [("device", gpu1), ("synchronize", gpu1)]
