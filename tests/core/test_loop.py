"""The render loop on a fake clock, with real (tiny) blended generators."""

import threading

import numpy as np
import pytest
import torch

from engine.core.catalog import build_registry
from engine.core.clock import FakeClock
from engine.core.loop import RenderLoop, SinkSet
from engine.core.show import build_renderer, load_models
from engine.models.build import build_generator
from engine.sinks.base import Frame, Sink

TINY = dict(z_dim=16, w_dim=16, c_dim=0, img_resolution=32, img_channels=3, mapping_kwargs={"num_layers": 2},
            channel_base=256, channel_max=16, architecture="skip")


def tiny_pair(seed=0):
    torch.manual_seed(seed)
    a = build_generator(TINY)
    sd = {k: v + 0.3 * torch.randn_like(v) if v.is_floating_point() and "filter" not in k else v
          for k, v in a.state_dict().items()}
    return [a, build_generator(TINY, sd)]


class Collect(Sink):
    name = "collect"

    def __init__(self):
        super().__init__()
        self.frames = []

    def _send(self, frame: Frame) -> None:
        self.frames.append(frame.numpy().copy())


class Broken(Sink):
    name = "broken"

    def _send(self, frame: Frame) -> None:
        raise OSError("cable pulled")


def make_loop(sinks, fps=10.0):
    renderer = build_renderer(tiny_pair(), torch.device("cpu"))
    registry = build_registry(renderer.blended)
    registry.set("latent.walk.mode", "slerp")
    registry.set("latent.walk.period", 1.0)
    return RenderLoop(registry, renderer, SinkSet(sinks), clock=FakeClock(fps=fps), fps=fps)


def test_frames_are_deterministic_on_a_fake_clock_and_the_walk_moves():
    runs = []
    for _ in range(2):
        sink = Collect()
        make_loop([sink]).run(frames=6)
        runs.append(sink.frames)
    assert len(runs[0]) == 6
    assert all(np.array_equal(a, b) for a, b in zip(*runs))
    assert not np.array_equal(runs[0][0], runs[0][3])      # the walk moved the picture
    assert runs[0][0].shape == (32, 32, 4) and runs[0][0][..., 3].min() == 255


def test_seconds_at_a_target_rate_give_exactly_that_many_frames():
    loop = make_loop([Collect()], fps=20)
    stats = loop.run(seconds=1.5)
    assert stats.frames == 30
    assert "30 frames" in stats.summary()


def test_a_failing_sink_is_dropped_and_the_others_keep_receiving(caplog):
    good = Collect()
    loop = make_loop([Broken(), good])
    loop.run(frames=4)
    assert len(good.frames) == 4
    assert [s.name for s, _ in loop.sinks.dropped] == ["broken"]
    assert "cable pulled" in caplog.text


def test_a_parameter_written_from_another_thread_lands_in_the_next_frame():
    sink = Collect()
    loop = make_loop([sink])
    loop.registry.set("latent.walk.mode", "off")
    loop.sinks.open(32, 32)
    loop.step()
    before = sink.frames[-1]
    t = threading.Thread(target=loop.registry.set, args=("blend.layer.0", 1.0))
    t.start()
    t.join()
    loop.registry.jump()
    loop.step()
    assert not np.array_equal(before, sink.frames[-1])


def test_a_hot_swap_to_a_corrupt_file_keeps_the_current_models(tmp_path):
    bad = tmp_path / "broken.pkl"
    bad.write_bytes(b"\x80\x04this is not a model")
    sink = Collect()
    loop = make_loop([sink])
    renderer = loop.renderer
    loop.swapper.request(lambda: build_renderer(load_models([bad], torch.device("cpu")), torch.device("cpu"))).join()
    loop.run(frames=3)
    assert loop.renderer is renderer
    assert len(sink.frames) == 3
    assert "broken.pkl" in loop.swapper.errors[0] and "keep playing" in loop.swapper.errors[0]


def test_a_hot_swap_happens_at_a_frame_boundary():
    sink = Collect()
    loop = make_loop([sink])
    loop.registry.set("latent.walk.mode", "off")
    loop.run(frames=2)
    loop.swapper.request(lambda: build_renderer(tiny_pair(seed=5), torch.device("cpu"))).join()
    loop.run(frames=2)
    assert np.array_equal(sink.frames[0], sink.frames[1])
    assert not np.array_equal(sink.frames[1], sink.frames[2])


def test_pause_freezes_the_walk_and_triggers_fire_once_per_press():
    sink = Collect()
    fired = []
    loop = make_loop([sink])
    loop.triggers["engine.snapshot"] = lambda: fired.append(True)
    loop.registry.set("engine.pause", 1)
    loop.registry.set("engine.snapshot", 1)
    loop.run(frames=3)
    assert np.array_equal(sink.frames[0], sink.frames[2])
    assert fired == [True]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "garbage"])
def test_bad_control_values_never_reach_a_frame(value):
    from engine.core.params import ParamError

    sink = Collect()
    loop = make_loop([sink])
    with pytest.raises(ParamError):
        loop.registry.set("blend.layer.1", value)
    loop.run(frames=1)
    assert np.isfinite(sink.frames[0]).all()


def test_failures_in_triggers_hooks_and_render_never_stop_the_loop(caplog):
    sink = Collect()
    loop = make_loop([sink])
    loop.triggers["engine.snapshot"] = lambda: 1 / 0
    loop.on_frame = lambda ft: (_ for _ in ()).throw(RuntimeError("hook broke"))
    loop.registry.set("engine.snapshot", 1)
    loop.run(frames=3)
    assert len(sink.frames) == 3
    real_render = loop.renderer.render
    loop.renderer.render = lambda *a: (_ for _ in ()).throw(RuntimeError("device lost"))
    stats = loop.run(seconds=0.5)                       # stops on time although nothing renders
    assert loop.last_t >= 0.4 and len(sink.frames) == 3
    loop.renderer.render = real_render
    loop.run(frames=2)
    assert len(sink.frames) == 5
    assert caplog.text.count("device lost") == 1       # logged once, not once per frame
    assert "division by zero" in caplog.text and "hook broke" in caplog.text
    assert stats is loop.stats and loop.errors > 3
