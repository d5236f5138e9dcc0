"""The render loop on a fake clock, with real (tiny) blended generators."""

import threading

import numpy as np
import pytest
import torch

from engine.core.clock import FakeClock
from engine.show.build import build_renderer
from engine.show.catalog import build_registry
from engine.show.loop import RenderLoop, SinkSet
from tests.helpers import Broken, Collect, tiny_pair


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


def test_pause_freezes_the_walk_and_triggers_fire_once_per_press():
    sink = Collect()
    fired = []
    loop = make_loop([sink])
    loop.triggers["engine.snapshot"] = fired.append
    loop.registry.set("engine.pause", 1)
    loop.registry.set("engine.snapshot", 1, stamp=0.25)
    loop.run(frames=3)
    assert np.array_equal(sink.frames[0], sink.frames[2])
    assert fired == [0.25]


def test_presses_within_one_frame_each_fire_once_with_their_receipt_time():
    fired = []
    loop = make_loop([Collect()])
    loop.triggers["latent.next_seed"] = fired.append
    for i in range(10):
        loop.registry.set("latent.next_seed", 1, stamp=i / 1000)
    loop.run(frames=2)
    assert fired == [i / 1000 for i in range(10)]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "garbage"])
def test_bad_control_values_never_reach_a_frame(value):
    from engine.core.params import ParamError

    frames = []
    for bad in (False, True):
        sink = Collect()
        loop = make_loop([sink])
        loop.registry.set("blend.layer.1", 0.7)
        if bad:
            with pytest.raises(ParamError):
                loop.registry.set("blend.layer.1", value)
        loop.run(frames=1)
        frames.append(sink.frames[0])
    assert np.array_equal(frames[0], frames[1])          # the last good value rendered, nothing else


def test_failures_in_triggers_hooks_and_render_never_stop_the_loop(caplog):
    sink = Collect()
    loop = make_loop([sink])
    loop.triggers["engine.snapshot"] = lambda stamp: 1 / 0
    loop.hooks.after_frame.append(lambda frame, ft: (_ for _ in ()).throw(RuntimeError("hook broke")))
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
