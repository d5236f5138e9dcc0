import pytest

from engine.core.clock import Clock, FakeClock


def test_fake_clock_steps_exactly():
    c = FakeClock(fps=25)
    ticks = [c.tick() for _ in range(51)]
    assert [t.frame for t in ticks[:3]] == [0, 1, 2]
    assert ticks[0].t == 0 and ticks[0].dt == 0
    assert ticks[50].t == pytest.approx(2.0)
    assert ticks[1].dt == pytest.approx(0.04)


def test_beats_integrate_tempo_changes():
    c = FakeClock(fps=10, bpm=120)
    for _ in range(11):
        ft = c.tick()
    assert ft.beat == pytest.approx(2.0)          # 1 s at 120 bpm
    c.bpm = 60
    for _ in range(10):
        ft = c.tick()
    assert ft.beat == pytest.approx(3.0)          # +1 s at 60 bpm, no jump


def test_clock_follows_injected_time():
    now = [100.0]
    c = Clock(time_fn=lambda: now[0])
    assert c.tick().t == 0.0
    now[0] = 100.25
    ft = c.tick()
    assert (ft.t, ft.dt) == (0.25, 0.25)
