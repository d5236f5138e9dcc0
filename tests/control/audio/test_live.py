"""Live input: the analysis thread (blocks pushed by hand), then real audio through JACK into
PortAudio (tone, silence, bass, clicks), device errors and `netblend audio`."""

from __future__ import annotations

import sys
import time

import pytest

from engine.cli import main
from engine.control.audio import params, start_audio
from engine.control.audio.live import AudioConfig, AudioInput
from engine.control.modulator_file import ModulatorConfig, Route
from engine.core.clock import FakeClock
from engine.core.params import ParamRegistry, ParamSpec
from engine.errors import AudioError
from engine.show.catalog import engine_params
from engine.show.modulators import Modulation
from engine.show.modulators import params as mod_params
from tests.control.audio.conftest import PLAYER
from tests.control.audio.signals import SR, click_track, tone


def registry() -> ParamRegistry:
    reg = ParamRegistry()
    reg.add_all(engine_params() + params() + [ParamSpec("blend.layer.3", 0.0, -2.0, 3.0)])
    return reg


def wait_for(condition, timeout: float = 3.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def features(reg: ParamRegistry) -> dict[str, float]:
    return {n: reg.get(n) for n in reg.names("audio.") if n != "audio.tempo"}


def test_the_analysis_thread_writes_features_and_follows_the_tempo():
    reg = registry()
    reg.set("audio.tempo", 1.0)
    samples, _ = click_track(128.0, 10.0)
    with AudioInput(reg, SR, "pushed", AudioConfig(silence_timeout=0.5)).start() as audio:
        for i in range(0, len(samples), 4800):
            audio.push(samples[i:i + 4800, None].repeat(2, axis=1))     # stereo blocks, mixed to mono
        assert wait_for(lambda: audio.analyser.hops >= len(samples) // audio.analyser.hop, 10.0)
        assert wait_for(lambda: reg.get("audio.bpm") > 0)
        assert reg.get("audio.bpm") == pytest.approx(128.0, abs=1.0)
        assert reg.get("tempo.bpm") == pytest.approx(128.0, abs=1.0)    # audio.tempo on: it drives the tempo
        changes = reg.drain_changes()
        assert changes["audio.bpm"][1] == changes["tempo.bpm"][1] == ("audio", "pushed")   # feedback knows the sender
        assert wait_for(lambda: all(v == 0.0 for v in features(reg).values()), 3.0)  # nothing comes: 0
    assert audio._thread is None


def test_tempo_is_left_alone_unless_asked():
    reg = registry()
    samples, _ = click_track(128.0, 8.0)
    with AudioInput(reg, SR, "pushed").start() as audio:
        audio.push(samples)
        assert wait_for(lambda: reg.get("audio.bpm") > 0, 10.0)
    assert reg.get("tempo.bpm") == 120.0


def test_live_tone_silence_bass_and_clicks_through_jack(jack_audio):
    reg = registry()
    kick = ModulatorConfig(name="kick", type="envelope", source="audio.low", attack=0.0, release=0.0,
                           gain=2.0, gate=0.05, routes=(Route("blend.layer.3", 1.0),))
    reg.add_all(mod_params([kick]))
    modulation = Modulation([kick], reg)
    clock = FakeClock(fps=60)

    def layer() -> float:
        ft = clock.tick()
        return modulation.apply(reg.snapshot(ft.dt).values, ft)["blend.layer.3"]

    jack_audio.play(tone(1000.0, 1.0, amp=0.5, sr=jack_audio.rate), loop=True)
    with start_audio(reg, PLAYER) as audio:
        assert audio.sample_rate == jack_audio.rate
        assert wait_for(lambda: abs(reg.get("audio.level") - 0.354) < 0.01)   # a 0.5 sine: RMS 0.354
        assert reg.get("audio.mid") == pytest.approx(0.354, abs=0.01)
        assert reg.get("audio.low") < 0.02 and layer() == 0.0           # a mid tone: bass routing stays

        jack_audio.silence()
        assert wait_for(lambda: all(v == 0.0 for v in features(reg).values()))
        assert layer() == 0.0                                            # silence moves nothing

        jack_audio.play(tone(60.0, 1.0, amp=0.6, sr=jack_audio.rate), loop=True)
        assert wait_for(lambda: reg.get("audio.low") > 0.3)
        assert layer() > 0.5                                             # a bass burst moves it

        jack_audio.silence()
        assert wait_for(lambda: reg.get("audio.level") == 0.0)
        samples, times = click_track(240.0, 1.3, start=0.1, sr=jack_audio.rate)
        seen, last = 0, 0.0
        jack_audio.play(samples)
        end = time.monotonic() + 1.6
        while time.monotonic() < end:
            onset = reg.get("audio.onset")
            seen += onset > 0.8 and onset > last + 0.2
            last = onset
            time.sleep(0.004)
        assert seen == len(times)                                        # every click, nothing more
    assert audio.dropped == 0
    assert all(v == 0.0 for v in features(reg).values())                # stopped: back to 0


def test_a_missing_device_is_one_line_naming_the_fix(jack_audio):
    with pytest.raises(AudioError, match=r"audio input 'no-such-card' not found; `netblend audio` lists"):
        start_audio(registry(), "no-such-card")


def test_netblend_audio_lists_the_jack_inputs(jack_audio, capsys):
    assert main(["audio"]) == 0
    out = capsys.readouterr().out
    assert PLAYER in out and "JACK" in out


def test_missing_portaudio_is_one_line(monkeypatch, capsys):
    class NoPortAudio:
        def find_spec(self, name, path=None, target=None):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return None

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [NoPortAudio(), *sys.meta_path])
    assert main(["audio", "--meter", "default"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("netblend: error: audio input needs the PortAudio library: apt-get install libportaudio2 "
                   "(Debian/Ubuntu); the sounddevice wheels for macOS and Windows include it")


def test_netblend_audio_analyse_summarises_a_track(tmp_path, capsys):
    from tests.control.audio.signals import write_audio

    samples, _ = click_track(120.0, 8.0)
    path = write_audio(tmp_path / "clicks.flac", samples)
    assert main(["audio", "--analyse", str(path)]) == 0
    out = capsys.readouterr().out
    assert "8.00 s, 240 frames at 30 fps" in out and "onsets 16," in out
    assert float(out.split("tempo ")[1].split()[0]) == pytest.approx(120.0, abs=1.0)
