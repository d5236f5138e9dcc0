"""Replay equals the performance: a show driven over real OSC (values, trigger presses, tap tempo, a
tempo change, a morphed preset recall) is recorded, replayed by `netblend render --controls`, and
every frame's registry values and pixels are compared with the live run's."""

from __future__ import annotations

import argparse
import json
import socket

import av
import numpy as np
import pytest
import torch
from pythonosc.osc_message_builder import build_msg

from engine.cli import main
from engine.commands.render import build_render_show
from engine.core.clock import FakeClock
from engine.models.loaders import save_generator
from engine.show import OscConfig, ShowConfig, TransportConfig, assemble, start_transports
from engine.sinks.record import RecordSink
from tests.helpers import Collect, tiny_pair, wait_for

FPS, FRAMES = 8, 40


class Values:
    """A show part that keeps every frame's snapshot values."""

    def __init__(self):
        self.frames = []

    def after_snapshot(self, snap, ft):
        self.frames.append(dict(snap.values))


def decode(path):
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def osc_script(port):
    """What TouchDesigner sends, frame by frame: (frame, address, value, wait-until predicate)."""
    return {
        2: [("/blend/layer/1", 0.8, lambda r: r.get("blend.layer.1") == pytest.approx(0.8))],
        5: [("/latent/next_seed", 1.0, lambda r: r.trigger_counts()["latent.next_seed"] == 1)],
        6: [("/latent/walk/mode", "slerp", lambda r: r.get("latent.walk.mode") == 2)],
        # taps as bangs (no argument): a 1 without its release in between is a held button, one tap
        8: [("/tempo/tap", [], lambda r: r.trigger_counts()["tempo.tap"] == 1)],
        10: [("/tempo/tap", [], lambda r: r.trigger_counts()["tempo.tap"] == 2)],
        12: [("/tempo/tap", [], lambda r: r.trigger_counts()["tempo.tap"] == 3)],
        15: [("/preset/recall", "warm", None)],
        22: [("/blend/layer/3", 1.4, lambda r: r.get("blend.layer.3") == pytest.approx(1.4))],
        30: [("/tempo/bpm", 90.0, lambda r: r.get("tempo.bpm") == 90.0),
             ("/blend/panic", 1.0, lambda r: r.trigger_counts()["blend.panic"] == 1)],
    }


def test_a_replayed_control_log_renders_the_performance_frame_for_frame(tmp_path):
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for G, p in zip(tiny_pair(seed=3), paths):
        save_generator(G, p)
    presets = tmp_path / "presets"
    presets.mkdir()
    (presets / "warm.toml").write_text('[params]\n"blend.layer.2" = 1.0\n"blend.curve.amount" = 0.5\n'
                                       '"latent.psi" = 0.6\n')
    log, live_video = tmp_path / "controls.jsonl", tmp_path / "live.mp4"

    show = assemble(ShowConfig(models=[str(p) for p in paths], presets_dir=str(presets), fps=FPS,
                               clock=FakeClock(fps=FPS)))
    show.registry.set("preset.morph", 1.0)                     # recalls morph over one second
    live_values, live_frames = show.attach(Values()), Collect()
    show.add_sink(live_frames)
    show.add_sink(RecordSink(live_video, fps=FPS, block=True))
    port = _free_port()
    start_transports(show, TransportConfig(osc=OscConfig(port=port), autosave=0, record_controls=str(log)))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    script = osc_script(port)
    try:
        show.loop.sinks.open(show.renderer.width, show.renderer.height)
        for n in range(FRAMES):
            for address, value, arrived in script.get(n, ()):
                sender.sendto(build_msg(address, value).dgram, ("127.0.0.1", port))
                if arrived is not None:
                    assert wait_for(lambda arrived=arrived: arrived(show.registry)) is not None, address
                else:                                        # a recall: arrived, then read by the worker
                    assert wait_for(lambda: show.osc.stats.applied >= 7) is not None
                    assert show.worker.wait_idle()
            show.loop.step()
    finally:
        show.close()
        sender.close()
    assert live_values.frames[FRAMES - 1]["tempo.bpm"] == 90.0
    assert live_values.frames[14]["tempo.bpm"] == pytest.approx(240.0)     # three taps 0.25 s apart
    assert live_values.frames[7]["latent.seed"] == 1.0
    assert 0.0 < live_values.frames[20]["blend.layer.2"] < 1.0             # mid-morph
    assert any(json.loads(line).get("event") == "recall" for line in log.read_text().splitlines())

    args = argparse.Namespace(models=[], preset=None, presets=str(presets), size=None, device="cpu",
                              controls=str(log), seconds=FRAMES / FPS, fps=float(FPS))
    replay, _, total = build_render_show(args)
    replay_values, replay_frames = replay.attach(Values()), Collect()
    replay.add_sink(replay_frames)
    replay.run(frames=total)
    assert len(replay_values.frames) == FRAMES
    for n, (live, again) in enumerate(zip(live_values.frames, replay_values.frames)):
        assert live == again, f"frame {n}: {_diff(live, again)}"
    for n, (live, again) in enumerate(zip(live_frames.frames, replay_frames.frames)):
        assert np.array_equal(live, again), f"frame {n} differs"

    replayed_video = tmp_path / "replay.mp4"
    assert main(["render", "--controls", str(log), "--seconds", str(FRAMES / FPS), "--fps", str(FPS),
                 "-o", str(replayed_video), "--device", "cpu", "--quiet", "--presets", str(presets)]) == 0
    a, b = decode(live_video), decode(replayed_video)
    assert len(a) == len(b) == FRAMES and all(np.array_equal(x, y) for x, y in zip(a, b))


def _diff(a, b):
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}


def _free_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
