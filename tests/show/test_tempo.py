"""Tap tempo and MIDI clock (computed from stamped events), and the Link session's tempo values."""

from __future__ import annotations

import pytest

from engine.core.params import ParamRegistry, ParamSpec
from engine.show.tempo import MAX_BPM, LinkSync, TempoConfig, TempoTracker


def test_tap_tempo_averages_recent_taps():
    t = TempoTracker()
    assert t.tap(10.0) is None
    bpm = None
    for i, jitter in enumerate((0.01, -0.01, 0.02, -0.02), start=1):
        bpm = t.tap(10.0 + i * 0.5 + jitter)
    assert bpm == pytest.approx(60.0 / ((11.98 - 10.0) / 4), rel=1e-6)   # mean interval of 5 taps


def test_tap_resets_after_a_pause():
    t = TempoTracker(TempoConfig(tap_reset=2.0))
    t.tap(0.0)
    assert t.tap(0.5) == pytest.approx(120.0)
    assert t.tap(10.0) is None      # long pause: a new sequence, the old taps do not count
    assert t.tap(10.4) == pytest.approx(150.0)


def test_midi_clock_smoothed_with_jitter():
    t = TempoTracker()
    period = 60.0 / (128.0 * 24)
    now = 0.0
    for i in range(96):
        t.midi_clock(now + (0.0008 if i % 2 else -0.0008))
        now += period
    assert t.clock_bpm == pytest.approx(128.0, abs=0.5)


def test_midi_clock_stop_and_restart_at_new_tempo():
    t = TempoTracker()
    for i in range(50):
        t.midi_clock(i * 60.0 / (100 * 24))
    t.midi_stop(3.0)
    assert t.clock_bpm is None
    start = 10.0
    for i in range(50):
        t.midi_clock(start + i * 60.0 / (90 * 24))
    assert t.clock_bpm == pytest.approx(90.0, abs=0.01)


class FakeLinkSession:
    """Stands in for aalink.Link (which would announce itself on the LAN)."""

    def __init__(self, tempo):
        self.tempo = tempo


def test_nonsense_from_a_link_session_never_reaches_the_tempo():
    reg = ParamRegistry()
    reg.add(ParamSpec("tempo.bpm", 120.0, 20.0, 300.0))
    session = FakeLinkSession(97.5)
    sync = LinkSync(reg, session)
    sync.before_frame(None)
    assert reg.get("tempo.bpm") == 97.5
    session.tempo = float("nan")                  # the last good tempo stays
    sync.before_frame(None)
    assert reg.get("tempo.bpm") == 97.5
    session.tempo = 5000.0
    sync.before_frame(None)
    assert reg.get("tempo.bpm") == MAX_BPM
