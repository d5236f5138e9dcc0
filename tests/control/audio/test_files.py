"""Offline audio: per-frame features of real files (wav, flac, mp3), what they move when routed, and
the track muxed into a rendered video."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from engine.control.audio import FEATURES, analyse_file, mux_audio, params
from engine.control.modulator_file import ModulatorConfig, Route
from engine.core.clock import FakeClock
from engine.core.params import ParamRegistry, ParamSpec
from engine.errors import AudioError
from engine.show.modulators import Modulation
from engine.show.modulators import params as mod_params
from engine.sinks.base import Frame
from engine.sinks.record import RecordSink
from tests.control.audio.signals import SR, click_track, tone, with_burst, write_audio

FPS = 30


def test_the_same_file_gives_the_same_features_twice(tmp_path):
    samples, _ = click_track(120.0, 4.0)
    path = write_audio(tmp_path / "clicks.mp3", with_burst(samples, 1.0, 2.0))
    first, second = analyse_file(path, FPS), analyse_file(path, FPS)
    assert np.array_equal(first.values, second.values)
    assert first.values[:, FEATURES.index("onset")].max() == 1.0


def test_formats_and_frame_count(tmp_path):
    samples = tone(440.0, 2.5)
    wav = analyse_file(write_audio(tmp_path / "a.wav", samples), FPS)
    flac = analyse_file(write_audio(tmp_path / "a.flac", samples), FPS)
    assert len(wav) == 75 and wav.seconds == pytest.approx(2.5)
    assert np.array_equal(wav.values, flac.values)                 # both lossless, same 16-bit samples
    ntsc = analyse_file(tmp_path / "a.wav", 30000 / 1001)
    assert len(ntsc) == math.ceil(2.5 * 30000 / 1001)              # every frame of the video gets features
    assert ntsc.frame(len(ntsc) + 5) == {f"audio.{n}": 0.0 for n in FEATURES}   # past the end: silence


def _show(*configs: ModulatorConfig) -> ParamRegistry:
    reg = ParamRegistry()
    reg.add_all([ParamSpec("blend.layer.3", 0.0, -2.0, 3.0), ParamSpec("blend.curve.center", 0.5)])
    reg.add_all(params() + mod_params(configs))
    return reg


def _play(track, configs, reg) -> list[dict[str, float]]:
    """Render-loop order: the frame's features into the registry, snapshot, modulation."""
    modulation = Modulation(configs, reg)
    clock = FakeClock(fps=FPS)
    out = []
    for k in range(len(track)):
        track.write(reg, k)
        ft = clock.tick()
        out.append(dict(modulation.apply(reg.snapshot(ft.dt).values, ft)))
    return out


BASS = ModulatorConfig(name="kick", type="envelope", source="audio.low", attack=0.01, release=0.1, gain=3.0,
                       gate=0.02, routes=(Route("blend.layer.3", 1.0),))
TREBLE = ModulatorConfig(name="hat", type="envelope", source="audio.high", gain=3.0, gate=0.02,
                         routes=(Route("blend.curve.center", 0.4),))


def test_a_bass_burst_moves_what_bass_is_routed_to(tmp_path):
    samples = with_burst(tone(5000.0, 3.0, amp=0.05), 1.0, 2.0, freq=60.0, amp=0.6)
    track = analyse_file(write_audio(tmp_path / "burst.wav", samples), FPS)
    frames = _play(track, (BASS, TREBLE), _show(BASS, TREBLE))
    layer = [f["blend.layer.3"] for f in frames]
    assert max(layer[:30]) == 0.0                              # before the burst (frame 30): nothing
    assert min(layer[31:60]) > 0.9                             # during it: most of the depth
    assert max(layer[75:]) < 0.05                              # released after it
    center = [f["blend.curve.center"] for f in frames]
    assert max(center) - min(center[5:]) < 0.02                # the steady treble barely moves its target


def test_silence_moves_nothing(tmp_path):
    track = analyse_file(write_audio(tmp_path / "silence.flac", np.zeros(2 * SR, dtype=np.float32)), FPS)
    assert not track.values.any()
    reg = _show(BASS, TREBLE)
    for frame in _play(track, (BASS, TREBLE), reg):
        assert frame["blend.layer.3"] == 0.0 and frame["blend.curve.center"] == 0.5


def _video(path: Path, frames: int, size: int = 64) -> Path:
    sink = RecordSink(path, fps=FPS, block=True)
    sink.open(size, size)
    for i in range(frames):
        sink.send(Frame(torch.full((size, size, 4), (i * 5) % 256, dtype=torch.uint8), i, i / FPS))
    sink.close()
    return path


def _streams(path: Path) -> tuple[float, int, float, int]:
    """(video seconds, video frames, audio seconds, decoded audio samples)"""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        v_sec, a_sec = float(v.duration * v.time_base), float(a.duration * a.time_base)
        samples = sum(f.samples for f in c.decode(a))
    with av.open(str(path)) as c:
        count = sum(1 for _ in c.decode(video=0))
    return v_sec, count, a_sec, samples


@pytest.mark.parametrize("audio_seconds", [3.0, 1.0])           # longer (trimmed) and shorter (padded)
def test_mux_gives_an_audio_stream_of_the_video_length(tmp_path, audio_seconds):
    video = _video(tmp_path / "show.mp4", 45)
    track = write_audio(tmp_path / "track.wav", tone(220.0, audio_seconds))
    out = mux_audio(video, track, tmp_path / "with-audio.mp4")
    v_sec, count, a_sec, samples = _streams(out)
    assert count == 45 and v_sec == pytest.approx(1.5)
    assert a_sec == pytest.approx(1.5, abs=1e-3)
    assert abs(samples - 1.5 * 48000) <= 1024                  # decoded: within one AAC frame
    assert sorted(p.name for p in tmp_path.iterdir()) == ["show.mp4", "track.wav", "with-audio.mp4"]


def test_mux_in_place_and_bad_input_leave_the_video_whole(tmp_path):
    video = _video(tmp_path / "show.mp4", 30)
    before = video.read_bytes()
    with pytest.raises(AudioError, match=r"show.avi: cannot carry audio as '.avi'"):
        mux_audio(video, tmp_path / "x.wav", tmp_path / "show.avi")
    with pytest.raises(AudioError, match=r"audio file .*nope.wav not found"):
        mux_audio(video, tmp_path / "nope.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really")
    with pytest.raises(AudioError, match="junk.wav: not an audio file FFmpeg can read"):
        mux_audio(video, tmp_path / "junk.wav")
    assert video.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.wav", "show.mp4"]
    mux_audio(video, write_audio(tmp_path / "t.flac", tone(330.0, 2.0)))
    assert _streams(video)[1] == 30 and _streams(video)[2] == pytest.approx(1.0, abs=1e-3)


def test_a_file_without_sound_is_one_clear_line(tmp_path):
    video = _video(tmp_path / "silent.mp4", 10)
    with pytest.raises(AudioError, match="silent.mp4: has no audio stream"):
        analyse_file(video, FPS)


def test_the_track_drives_the_tempo_only_when_asked(tmp_path):
    from engine.show.catalog import engine_params

    samples, _ = click_track(132.0, 8.0)
    track = analyse_file(write_audio(tmp_path / "clicks.wav", samples), FPS)
    reg = _show()
    reg.add_all(engine_params())
    for k in range(len(track)):
        track.write(reg, k)
    assert reg.get("audio.bpm") == pytest.approx(132.0, abs=1.0) and reg.get("tempo.bpm") == 120.0
    reg.set("audio.tempo", 1.0)
    track.write(reg, len(track) - 1)
    assert reg.get("tempo.bpm") == pytest.approx(132.0, abs=1.0)
