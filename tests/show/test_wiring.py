"""The performer's toolkit and the control page wired into a real show: preset modulators, an
audio-reactive offline render with the track muxed in, network bending from the registry, and the
control page started by `run`'s transports."""

from __future__ import annotations

import argparse
import json
import socket
import urllib.request
import wave

import av
import numpy as np
import pytest

from engine.cli import main
from engine.commands.render import build_render_show
from engine.models.loaders import save_generator
from engine.show import OscConfig, TransportConfig, start_transports
from engine.show.transports import SurfaceSettings
from tests.helpers import Collect, make_show, steps, tiny_pair

LFO_PRESET = """
[params]
"blend.layer.1" = 0.0
[[mod]]
name = "sway"
type = "lfo"
shape = "sine"
rate = 1.0
route = [ { param = "blend.layer.1", depth = 0.5 } ]
"""


def test_a_preset_lfo_moves_the_rendered_mask_and_leaves_the_base_value(tmp_path):
    show = make_show(tmp_path, [Collect()])
    try:
        show.presets.folder.mkdir(parents=True, exist_ok=True)
        (show.presets.folder / "sway.toml").write_text(LFO_PRESET)
        (show.presets.folder / "still.toml").write_text('[params]\n"blend.layer.1" = 0.0\n')
        show.recall("sway")
        rendered = []
        for _ in range(10):                                           # one second at 10 fps: one cycle
            steps(show, 1)
            rendered.append(show.renderer.blend_state.layers[1])
            assert show.registry.get("blend.layer.1") == 0.0          # the fader's value is untouched
        assert max(rendered) == pytest.approx(0.5, abs=0.05) and min(rendered) == pytest.approx(-0.5, abs=0.05)
        assert "mod.sway.rate" in show.registry
        saved = show.presets.save("again").read_text()
        assert "[[mod]]" in saved and 'name = "sway"' in saved        # what plays is what is saved
        show.recall("still")                                          # a preset without [[mod]] clears them
        steps(show, 3)
        assert show.renderer.blend_state.layers[1] == 0.0 and "mod.sway.rate" not in show.registry
    finally:
        show.close()


def test_bending_parameters_reach_the_frame(tmp_path):
    show = make_show(tmp_path, [Collect()])
    try:
        show.registry.set("latent.walk.mode", "off")
        steps(show, 1)
        show.registry.set("bend.2.invert", 1.0)
        show.registry.jump()                                          # no slew: this frame is fully bent
        steps(show, 1)
        show.registry.set("bend.2.invert", 0.0)
        show.registry.jump()
        steps(show, 1)
        plain, bent, back = show.loop.sinks.sinks[0].frames
        assert not np.array_equal(plain, bent) and np.array_equal(plain, back)   # zero amounts: bit-identical
    finally:
        show.close()


def write_bass_track(path, seconds=2.0, rate=44100):
    """Silence, then a loud 60 Hz tone for the second half."""
    t = np.arange(int(seconds * rate)) / rate
    signal = np.where(t >= seconds / 2, 0.8 * np.sin(2 * np.pi * 60 * t), 0.0)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((signal * 32767).astype("<i2").tobytes())


def decode(path):
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(str(path)) as container:
        audio = [s for s in container.streams if s.type == "audio"]
        seconds = float(audio[0].duration * audio[0].time_base) if audio and audio[0].duration else None
    return frames, seconds


@pytest.mark.slow
def test_render_audio_makes_an_audio_reactive_video_with_the_track_in_it(tmp_path):
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors"]
    for G, p in zip(tiny_pair(seed=5), paths):
        save_generator(G, p)
    track = tmp_path / "bass.wav"
    write_bass_track(track)
    preset = tmp_path / "pulse.toml"
    preset.write_text('[params]\n"latent.walk.mode" = "off"\n'
                      '[[mod]]\nname = "kick"\ntype = "envelope"\nsource = "audio.low"\nattack = 0.01\n'
                      'release = 0.1\ngain = 4.0\nroute = [ { param = "blend.layer.3", depth = 2.0 } ]\n')
    common = [*map(str, paths), "--fps", "10", "--device", "cpu", "--quiet", "--preset", str(preset)]
    music = tmp_path / "music.mp4"
    assert main(["render", *common, "--audio", str(track), "-o", str(music)]) == 0     # 2 s, from the track
    frames, audio_seconds = decode(music)
    assert len(frames) == 20 and audio_seconds == pytest.approx(2.0, abs=0.1)
    again = tmp_path / "again.mp4"
    assert main(["render", *common, "--audio", str(track), "-o", str(again)]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(decode(again)[0], frames))      # same command, same frames

    def rendered(audio):                                      # the same show, its frames before encoding
        args = argparse.Namespace(models=list(map(str, paths)), preset=str(preset), presets=None, size=None,
                                  device="cpu", controls=None, seconds=2.0, fps=10.0, audio=audio)
        show, _, total = build_render_show(args)
        sink = show.add_sink(Collect())
        show.run(frames=total)
        return sink.frames

    with_track, without = rendered(str(track)), rendered(None)
    assert all(np.array_equal(a, b) for a, b in zip(with_track[:10], without[:10]))  # silence moves nothing
    assert all(not np.array_equal(a, b) for a, b in zip(with_track[10:], without[10:]))   # bass moves layer 3


def free_tcp_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def test_run_transports_serve_the_control_page_and_oscquery(tmp_path):
    show = make_show(tmp_path, [Collect()])
    http, osc = free_tcp_port(), _free_udp_port()
    try:
        lines = start_transports(show, TransportConfig(osc=OscConfig(port=osc), autosave=0,
                                                       surface=SurfaceSettings(port=http)))
        assert any(f"http://127.0.0.1:{http}/ui/" in line for line in lines)
        info = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http}/?HOST_INFO", timeout=5))
        assert info["OSC_PORT"] == osc and info["OSC_TRANSPORT"] == "UDP"
        show.registry.set("blend.layer.2", 0.75)
        node = json.load(urllib.request.urlopen(f"http://127.0.0.1:{http}/blend/layer/2", timeout=5))
        assert node["VALUE"] == [0.75]
        page = urllib.request.urlopen(f"http://127.0.0.1:{http}/ui/", timeout=5).read().decode()
        assert "<html" in page.lower()
        assert show.surface.preview in show.loop.sinks.sinks
        steps(show, 2)
    finally:
        show.close()


def _free_udp_port() -> int:
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port
