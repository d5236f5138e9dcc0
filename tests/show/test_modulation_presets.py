"""The shipped presets with [[mod]] tables load, bind to a show's parameters (StyleGAN2 and 3) and
move what they route: the LFO preset on the fake clock, the audio preset from a generated track."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from engine.control.audio import analyse_file
from engine.control.audio import params as audio_params
from engine.control.modulator_file import load_mods
from engine.core.clock import FakeClock
from engine.core.params import ParamRegistry
from engine.show.catalog import show_params
from engine.show.modulators import Modulation
from engine.show.presets import PresetManager
from tests.control.audio.signals import click_track, with_burst, write_audio
from tests.helpers import thin_generator

ROOT = Path(__file__).resolve().parents[2]
WITH_MODS = sorted(p for p in (ROOT / "presets").glob("*.toml") if "[[mod]]" in p.read_text())


def show(kind: str, preset_path: Path):
    """A show's registry (with audio.* and the preset's mod.*), the preset recalled, and its modulation."""
    table = thin_generator(kind).layers
    reg = ParamRegistry()
    family = kind.split("-")[0]
    reg.add_all(show_params(len(table), SimpleNamespace(num_ws=len(table), c_dim=0, family=family)) + audio_params())
    mods = load_mods(preset_path)
    modulation = Modulation(mods, reg)
    reg.add_all(modulation.params())
    presets = PresetManager(ROOT / "presets", reg, layers=lambda: table)
    assert presets.load(preset_path.stem).validate(reg, table) == []
    presets.recall(preset_path.stem)
    return reg, modulation


def test_an_lfo_preset_and_an_audio_preset_are_shipped():
    kinds = {m.type for p in WITH_MODS for m in load_mods(p)}
    sources = {m.source for p in WITH_MODS for m in load_mods(p) if m.type == "envelope"}
    assert "lfo" in kinds and "envelope" in kinds
    assert any(s.startswith("audio.") for s in sources)


@pytest.mark.parametrize("path", WITH_MODS, ids=[p.stem for p in WITH_MODS])
@pytest.mark.parametrize("kind", ["stylegan2-1024", "stylegan2-256", "stylegan3-1024"])
def test_presets_bind_and_move_their_targets(path, kind, tmp_path):
    reg, modulation = show(kind, path)
    targets = sorted({r.param for m in modulation.configs for r in m.routes})
    track = None
    if any(m.type == "envelope" for m in modulation.configs):
        samples, _ = click_track(120.0, 6.0)
        samples = with_burst(samples + 0.05 * np.sin(np.arange(len(samples)) * 0.9).astype(np.float32), 2.0, 3.0)
        track = analyse_file(write_audio(tmp_path / "track.wav", samples), 30)
    clock = FakeClock(fps=30, bpm=120.0)
    base = dict(reg.snapshot(0.0).values)
    seen = {t: [] for t in targets}
    for k in range(300):
        if track is not None:
            track.write(reg, k)
        ft = clock.tick()
        values = modulation.apply(reg.snapshot(ft.dt).values, ft)
        for t in targets:
            seen[t].append(values[t])
            spec = reg.spec(t)
            assert spec.lo <= values[t] <= spec.hi
    for t in targets:
        assert max(seen[t]) - min(seen[t]) > 0.05, f"{path.name}: {t} never moved"
        assert reg.get(t) == pytest.approx(base[t])                   # the base value is untouched
