"""Presets: round trip, morphs, atomic saves under SIGKILL, crash recovery, shipped presets, bad names."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.core.clock import FrameTime
from engine.core.params import ParamRegistry
from engine.errors import PresetError
from engine.show.catalog import show_params
from engine.show.morph import Morph
from engine.show.preset_file import check_name
from engine.show.presets import Autosaver, PresetManager

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]


def engine_registry(num_layers: int = 18, family: str = "stylegan2") -> ParamRegistry:
    """A registry with the live engine's parameter names (no model needed)."""
    G = SimpleNamespace(num_ws=num_layers, c_dim=0, family=family)
    reg = ParamRegistry()
    reg.add_all(show_params(num_layers, G))
    return reg


def test_round_trip_restores_every_kind_of_value_and_the_models(tmp_path):
    reg = engine_registry()
    models = {"a": tmp_path / "models" / "ffhq.pkl", "b": Path("/elsewhere/ukiyoe.pkl")}
    presets = PresetManager(tmp_path / "presets", reg, shipped=[],
                            live_state=lambda: {"models": models, "keyframes": [7, tmp_path / "presets" / "w.npz"]})
    reg.update({"blend.layer.3": 1.5, "blend.curve.direction": "down", "latent.seed": 1234,
                "latent.walk.beats": True, "latent.walk.mode": "slerp", "tempo.bpm": 96.0})
    path = presets.save("dusk", description="test")
    text = path.read_text()
    assert '"latent.walk.mode" = "slerp"' in text and '"latent.seed" = 1234' in text
    assert 'a = "../models/ffhq.pkl"' in text           # relative to the preset file
    assert "engine.pause" not in text and "blend.panic" not in text

    reg.update({"blend.layer.3": 0.0, "blend.curve.direction": "up", "latent.seed": 1,
                "latent.walk.beats": False, "latent.walk.mode": "off", "tempo.bpm": 120.0})
    preset = presets.recall("dusk")
    assert (reg.get("blend.layer.3"), reg.get("blend.curve.direction"), reg.get("latent.seed"),
            reg.get("latent.walk.beats"), reg.get("latent.walk.mode"), reg.get("tempo.bpm")) == \
        (1.5, 1.0, 1234.0, 1.0, 2.0, 96.0)
    assert reg.snapshot().get("blend.layer.3") == 1.5      # instant: no smoothing lag
    assert preset.models == models
    assert preset.keyframes == [7, tmp_path / "presets" / "w.npz"]
    assert presets.list() == ["dusk"]


def test_wildcards_fit_models_of_any_layer_count(tmp_path):
    (tmp_path / "zero.toml").write_text('[params]\n"blend.layer.*" = 0.25\n"blend.layer.2" = 1.0\n')
    for layers in (14, 18):
        reg = engine_registry(layers)
        PresetManager(tmp_path, reg).recall("zero")
        values = [reg.get(f"blend.layer.{i}") for i in range(layers)]
        assert values == [0.25, 0.25, 1.0] + [0.25] * (layers - 3)


def test_morph_is_monotonic_and_lands_exactly_on_the_preset(tmp_path):
    reg = engine_registry()
    (tmp_path / "p.toml").write_text('[params]\n"blend.layer.0" = 2.0\n"blend.curve.center" = 0.1\n'
                                     '"latent.seed" = 99\n"latent.walk.mode" = "noise"\n')
    presets = PresetManager(tmp_path, reg)
    presets.recall("p", morph_seconds=1.0)
    morph = presets.morph
    assert morph is not None and reg.get("blend.layer.0") == 0.0
    ups, downs, seeds = [], [], []
    while morph.step(0.07):
        ups.append(reg.snapshot(0.07).get("blend.layer.0"))   # snapshot follows the morph, no lag
        downs.append(reg.get("blend.curve.center"))
        seeds.append(reg.get("latent.seed"))
    assert morph.done and morph.step(0.07) is False
    assert ups == sorted(ups) and len(set(ups)) == len(ups) and ups[-1] < 2.0
    assert downs == sorted(downs, reverse=True)
    assert seeds[0] == 0.0 and seeds[-1] == 99.0           # discrete values switch halfway
    assert (reg.get("blend.layer.0"), reg.get("blend.curve.center"), reg.get("latent.seed"),
            reg.get("latent.walk.mode")) == (2.0, 0.1, 99.0, 3.0)


def test_morph_in_beats_follows_the_tempo_and_a_fader_takes_over():
    reg = engine_registry()
    morph = Morph(reg, {"blend.layer.0": 1.0, "blend.layer.1": 1.0}, duration=4.0, unit="beats")
    frame = FrameTime(frame=1, t=0.5, dt=0.5, beat=1.0, bpm=120.0)     # half a second = one beat
    morph.step_frame(frame)
    assert reg.get("blend.layer.0") == pytest.approx(0.25)
    reg.set("blend.layer.1", -1.0, ("midi", "fader"))                    # the performer moves a fader
    morph.step_frame(frame)
    assert reg.get("blend.layer.0") == pytest.approx(0.5)
    assert reg.get("blend.layer.1") == -1.0
    while morph.step_frame(frame):
        pass
    assert (reg.get("blend.layer.0"), reg.get("blend.layer.1")) == (1.0, -1.0)


def test_instant_recall_cancels_a_running_morph(tmp_path):
    reg = engine_registry()
    (tmp_path / "p.toml").write_text('[params]\n"blend.layer.0" = 2.0\n')
    presets = PresetManager(tmp_path, reg)
    presets.recall("p", morph_seconds=5.0)
    presets.recall("p")
    assert presets.morph is None and reg.get("blend.layer.0") == 2.0


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "", "x\x00y", ".hidden", "a\\b", "..",
                                  "C:evil", "x" * 65, "trailing.", 3])
def test_names_with_path_tricks_are_rejected(tmp_path, name):
    presets = PresetManager(tmp_path / "p", engine_registry())
    for call in (presets.save, presets.load, presets.recall):
        with pytest.raises(PresetError, match="preset name"):
            call(name)
    assert not (tmp_path / "p").exists() and not (tmp_path / "x.toml").exists()


def test_good_names_are_kept():
    assert check_name("Dusk 2 - slow_morph+") == "Dusk 2 - slow_morph+"
    assert check_name("dawn.toml") == "dawn"
    assert check_name("été") == "été"


def test_unreadable_presets_name_the_file(tmp_path):
    presets = PresetManager(tmp_path, engine_registry())
    (tmp_path / "broken.toml").write_text("[params\n")
    (tmp_path / "wrong.toml").write_text('[params]\n"blend.layer.0" = [1, 2]\n')
    with pytest.raises(PresetError, match="broken.toml.*not valid TOML"):
        presets.load("broken")
    with pytest.raises(PresetError, match=r"wrong.toml: \[params\]"):
        presets.load("wrong")
    with pytest.raises(PresetError, match="no preset named 'absent'"):
        presets.load("absent")
    with pytest.raises(PresetError, match="did you mean 'broken'"):
        presets.load("brokn")


def test_autosave_and_resume(tmp_path):
    reg = engine_registry()
    autosave = tmp_path / "state" / "autosave.toml"
    presets = PresetManager(tmp_path, reg, shipped=[], autosave_path=autosave)
    assert presets.restore() is None
    saver = Autosaver(presets, interval=0.05).start()
    reg.set("blend.curve.amount", 0.75)
    time.sleep(0.2)
    reg.set("blend.layer.5", 1.25)
    saver.close()                                              # saves once more on exit
    assert presets.list() == []                                # the autosave is not a user preset
    fresh = engine_registry()
    PresetManager(tmp_path, fresh, autosave_path=autosave).restore()
    assert (fresh.get("blend.curve.amount"), fresh.get("blend.layer.5")) == (0.75, 1.25)


SAVER = textwrap.dedent("""
    import sys
    from engine.show.presets import PresetManager
    from engine.core.params import ParamRegistry, ParamSpec
    reg = ParamRegistry()
    reg.add_all(ParamSpec(f"blend.layer.{i}", 0.0, 0.0, 1e9) for i in range(3000))
    presets = PresetManager(sys.argv[1], reg)
    i = 0
    while True:
        i += 1
        reg.update({f"blend.layer.{k}": float(i) for k in range(3000)})
        presets.save("live")
        if i == 1:
            print("ready", flush=True)
""")


@pytest.mark.slow
def test_a_save_killed_midway_always_leaves_a_whole_file(tmp_path):
    """SIGKILL a process that saves 3000 values in a loop, at random moments: the file is always whole."""
    versions = set()
    for attempt in range(6):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path)], stdout=subprocess.PIPE,
                                text=True, cwd=ROOT)
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(0.05 + 0.04 * attempt)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        data = tomllib.loads((tmp_path / "live.toml").read_text())
        values = set(data["params"].values())
        assert len(data["params"]) == 3000 and len(values) == 1, "a torn preset file"
        versions |= values
    assert len(versions) > 1   # the kills did land at different points of the save loop
    assert PresetManager(tmp_path, ParamRegistry(), shipped=[]).list() == ["live"]   # leftover temporaries hidden


SHIPPED = sorted((ROOT / "presets").glob("*.toml"))


def test_some_presets_are_shipped():
    assert len(SHIPPED) >= 4
    assert all(os.access(p, os.R_OK) for p in SHIPPED)
