"""The analyser on generated audio: silence, tones in each band, click-track onsets within one video
frame, the tempo and the beats of a click track."""

from __future__ import annotations

import numpy as np
import pytest

from engine.control.audio.features import FEATURES, FeatureAnalyser
from engine.control.audio.files import analyse_samples
from tests.control.audio.signals import SR, click_track, tone

FPS = 30


def column(values: np.ndarray, name: str) -> np.ndarray:
    return values[:, FEATURES.index(name)]


def pulses(values: np.ndarray, name: str) -> list[int]:
    """Frames where a pulse fires (it reads 1.0 on the frame of the event)."""
    col = column(values, name)
    return [k for k in range(len(col)) if col[k] == 1.0]


def test_silence_is_exactly_zero():
    values = analyse_samples(np.zeros(2 * SR, dtype=np.float32), SR, FPS)
    assert values.shape == (60, len(FEATURES))
    assert not values.any()


@pytest.mark.parametrize(("freq", "band"), [(60.0, "low"), (1000.0, "mid"), (8000.0, "high")])
def test_a_tone_lands_in_its_band(freq, band):
    values = analyse_samples(tone(freq, 1.0, amp=0.5), SR, FPS)[-1]
    got = dict(zip(FEATURES, values))
    assert got["level"] == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    assert got[band] == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    for other in {"low", "mid", "high"} - {band}:
        assert got[other] < 0.01
    assert got["onset"] == 0.0 and got["beat"] == 0.0        # a steady tone has no onsets


def test_hiss_triggers_no_onset():
    rng = np.random.default_rng(1)
    values = analyse_samples((0.001 * rng.standard_normal(3 * SR)).astype(np.float32), SR, FPS)
    assert pulses(values, "onset") == []


@pytest.mark.parametrize("bpm", [120.0, 97.0])
def test_click_onsets_within_one_frame_and_the_tempo(bpm):
    samples, times = click_track(bpm, 12.0)
    values = analyse_samples(samples, SR, FPS)
    onsets = pulses(values, "onset")
    true = [int(t * FPS) for t in times]
    assert len(onsets) == len(true)                          # one onset per click, nothing else
    assert all(abs(o - t) <= 1 for o, t in zip(onsets, true))
    assert column(values, "bpm")[-1] == pytest.approx(bpm, abs=1.0)
    beats = pulses(values, "beat")
    late = [b for b in beats if b > 6 * FPS]                 # once the tempo has settled
    assert len(late) >= int(5 * bpm / 60)
    assert all(min(abs(b - t) for t in true) <= 1 for b in late)   # beats land on the clicks


def test_chunking_does_not_change_the_features():
    samples, _ = click_track(120.0, 4.0)
    whole = FeatureAnalyser(SR)
    whole.feed(samples)
    pieces = FeatureAnalyser(SR)
    rng = np.random.default_rng(2)
    i = 0
    while i < len(samples):
        n = int(rng.integers(1, 3000))
        pieces.feed(samples[i:i + n])
        i += n
    assert whole.values == pieces.values and whole.hops == pieces.hops
