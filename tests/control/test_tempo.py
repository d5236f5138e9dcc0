"""Tap tempo, MIDI clock and (a stand-in for) Ableton Link."""

from __future__ import annotations

import pytest

from engine.control.tempo import MAX_BPM, TempoConfig, TempoTracker
from engine.core.clock import FakeClock


def test_tap_tempo_averages_recent_taps():
    t = TempoTracker()
    assert t.tap(10.0) is None
    for i, jitter in enumerate((0.01, -0.01, 0.02, -0.02), start=1):
        t.tap(10.0 + i * 0.5 + jitter)
    assert t.bpm == pytest.approx(60.0 / ((11.98 - 10.0) / 4), rel=1e-6)   # mean interval of 5 taps
    assert t.source == "tap"


def test_tap_resets_after_a_pause():
    t = TempoTracker(TempoConfig(tap_reset=2.0))
    t.tap(0.0)
    t.tap(0.5)
    assert t.bpm == pytest.approx(120.0)
    t.tap(10.0)                     # long pause: a new sequence, the old taps do not count
    t.tap(10.4)
    assert t.bpm == pytest.approx(150.0)


def test_midi_clock_smoothed_with_jitter():
    t = TempoTracker()
    period = 60.0 / (128.0 * 24)
    now = 0.0
    for i in range(96):
        t.midi_clock(now + (0.0008 if i % 2 else -0.0008))
        now += period
    assert t.bpm == pytest.approx(128.0, abs=0.5)
    assert t.source == "clock"


def test_midi_clock_stop_and_restart_at_new_tempo():
    t = TempoTracker()
    for i in range(50):
        t.midi_clock(i * 60.0 / (100 * 24))
    t.midi_stop(3.0)
    assert t.clock_bpm is None and t.bpm == pytest.approx(100.0)
    start = 10.0
    for i in range(50):
        t.midi_clock(start + i * 60.0 / (90 * 24))
    assert t.bpm == pytest.approx(90.0, abs=0.01)


def test_tempo_drives_clock_beats():
    clock = FakeClock(fps=10.0)
    t = TempoTracker(on_change=lambda bpm: setattr(clock, "bpm", bpm))
    t.tap(0.0)
    t.tap(0.25)                                  # 240 bpm = 4 beats per second
    clock.tick()
    for _ in range(10):
        ft = clock.tick()
    assert ft.beat == pytest.approx(4.0)


class FakeLinkSession:
    """Stands in for aalink.Link (which would announce itself on the LAN)."""

    def __init__(self, tempo):
        self.tempo = tempo
        self.enabled = True


def test_link_tempo_follows_session_and_tap_propagates():
    t = TempoTracker()
    session = FakeLinkSession(97.5)
    t.attach_link(session)
    assert t.bpm == 97.5 and t.source == "link"
    session.tempo = 133.0                         # a peer changed the tempo
    assert t.bpm == 133.0
    t.tap(0.0)
    t.tap(0.6)
    assert session.tempo == pytest.approx(100.0)  # our tap goes out to the peers
    session.tempo = float("nan")                  # nonsense from the session: the last good tempo stays
    assert t.bpm == pytest.approx(100.0)
    session.tempo = 5000.0
    assert t.bpm == MAX_BPM
