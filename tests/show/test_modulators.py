"""Modulators: wave shapes, tempo sync, restart, seeded randomness, envelope followers, routing, clamping,
and the registry's base values left alone."""

from __future__ import annotations

import math

import pytest

from engine.control.modulator_file import ModulatorConfig, Route
from engine.core.clock import FakeClock, FrameTime
from engine.core.params import ParamRegistry, ParamSpec
from engine.errors import ModulationError
from engine.show.modulators import Modulation, params


def lfo(name="m", param="x", depth=1.0, **kw) -> ModulatorConfig:
    return ModulatorConfig(name=name, routes=(Route(param, depth),), **kw)


def envelope(name="e", param="x", depth=1.0, source="audio.low", **kw) -> ModulatorConfig:
    return ModulatorConfig(name=name, routes=(Route(param, depth),), type="envelope", source=source, **kw)


def show_registry(*configs: ModulatorConfig) -> ParamRegistry:
    reg = ParamRegistry()
    reg.add_all([
        ParamSpec("x", 0.5, 0.0, 1.0),
        ParamSpec("y", 0.0, -2.0, 3.0),                      # an overblend range
        ParamSpec("n", 1.0, 0.0, 10.0, kind="int"),
        ParamSpec("audio.low", 0.0, 0.0, 1.0, readonly=True),
    ])
    reg.add_all(params(configs))
    return reg


def run(configs, frames: int, fps: float = 30.0, bpm: float = 120.0, reg=None, between=None):
    """Values of every routed parameter over ``frames`` frames of a fake clock."""
    reg = reg or show_registry(*configs)
    mod = Modulation(configs, reg)
    clock = FakeClock(fps=fps, bpm=bpm)
    out = []
    for i in range(frames):
        if between is not None:
            between(i, reg, mod)
        ft = clock.tick()
        out.append(dict(mod.apply(reg.snapshot(ft.dt).values, ft)))
    return out


def test_shapes_at_known_phases():
    # 1 Hz at 4 fps: frames fall on phases 0, 0.25, 0.5, 0.75; bipolar, depth 0.5 around x = 0.5.
    expect = {
        "sine": [0.5, 1.0, 0.5, 0.0],
        "triangle": [0.5, 1.0, 0.5, 0.0],
        "saw-up": [0.0, 0.25, 0.5, 0.75],
        "saw-down": [1.0, 0.75, 0.5, 0.25],
    }
    for shape, want in expect.items():
        got = [v["x"] for v in run([lfo(shape=shape, rate=1.0, depth=0.5)], 4, fps=4)]
        assert got == pytest.approx(want, abs=1e-9), shape
    square = [v["x"] for v in run([lfo(shape="square", rate=1.0, width=0.25, depth=0.5)], 8, fps=8)]
    assert square == pytest.approx([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])


def test_polarity_offset_and_phase():
    pos = run([lfo(shape="saw-up", rate=1.0, depth=0.4, polarity="positive")], 4, fps=4)
    assert [v["x"] for v in pos] == pytest.approx([0.5, 0.6, 0.7, 0.8])
    neg = run([lfo(shape="saw-up", rate=1.0, depth=0.4, polarity="negative")], 4, fps=4)
    assert [v["x"] for v in neg] == pytest.approx([0.5, 0.4, 0.3, 0.2])
    shifted = run([lfo(shape="saw-up", rate=1.0, depth=0.4, polarity="positive", phase=0.5, offset=-0.5)], 2, fps=4)
    assert [v["x"] for v in shifted] == pytest.approx([0.5 + 0.4 * 0.0, 0.5 + 0.4 * 0.25])


def test_sync_follows_the_beat_grid_through_a_tempo_change():
    # 4 beats per cycle at 120 BPM = 2 s; a saw up reads the beat count directly.
    cfg = lfo(shape="saw-up", sync=True, beats=4.0, depth=0.25, polarity="positive", param="y", offset=0.0)
    reg = show_registry(cfg)
    mod = Modulation([cfg], reg)
    clock = FakeClock(fps=10, bpm=120.0)
    seen = []
    for i in range(30):
        if i == 10:
            clock.bpm = 60.0               # half tempo after 1 s (2 beats)
        ft = clock.tick()
        seen.append((ft.beat, mod.apply(reg.snapshot(ft.dt).values, ft)["y"]))
    for beat, y in seen:
        assert y == pytest.approx(0.25 * ((beat / 4.0) % 1.0))
    assert seen[9][0] == pytest.approx(1.8) and seen[29][0] == pytest.approx(1.8 + 20 * 0.1)  # half speed


def test_rate_change_does_not_jump_the_phase():
    cfg = lfo(shape="saw-up", rate=0.5, polarity="positive", depth=0.1)

    def faster(i, reg, mod):
        if i == 5:
            reg.set("mod.m.rate", 1.0)

    got = [v["x"] for v in run([cfg], 10, fps=10, between=faster)]
    steps = [b - a for a, b in zip(got, got[1:])]
    assert steps[:4] == pytest.approx([0.005] * 4)          # 0.5 Hz * 0.1 s * depth 0.1
    assert steps[4:] == pytest.approx([0.01] * 5)           # continues from where it was


def test_restart_trigger_starts_the_cycle_again():
    cfg = lfo(shape="saw-up", rate=1.0, polarity="positive", depth=0.4, offset=0.0)
    reg = show_registry(cfg)
    mod = Modulation([cfg], reg)
    assert set(mod.trigger_actions()) == {"mod.m.restart"}
    clock = FakeClock(fps=10)
    xs = []
    for i in range(8):
        if i == 5:
            mod.trigger_actions()["mod.m.restart"]()
        ft = clock.tick()
        xs.append(mod.apply(reg.snapshot(ft.dt).values, ft)["x"])
    assert xs[4] == pytest.approx(0.5 + 0.4 * 0.4)
    assert xs[5:] == pytest.approx([0.5, 0.54, 0.58])


def test_random_shapes_are_seeded_and_shaped():
    def xs(shape, seed):
        return [v["x"] for v in run([lfo(shape=shape, rate=2.0, seed=seed, depth=0.5)], 60, fps=30)]

    hold = xs("sample-hold", 7)
    assert hold == xs("sample-hold", 7)                      # same seed, same values
    assert hold != xs("sample-hold", 8)
    cycles = [hold[i:i + 15] for i in range(0, 60, 15)]      # 2 Hz at 30 fps: 15 frames per cycle
    assert all(len(set(c)) == 1 for c in cycles)             # held within a cycle
    assert len({c[0] for c in cycles}) == 4                  # a new value each cycle
    smooth = xs("smooth-random", 7)
    assert smooth == xs("smooth-random", 7)
    assert max(abs(b - a) for a, b in zip(smooth, smooth[1:])) < 0.2   # no jumps
    assert len(set(smooth)) > 30


def test_modulation_adds_to_the_base_and_clamps_to_the_range():
    a = lfo(name="a", shape="square", rate=1.0, depth=0.3, param="y")
    b = lfo(name="b", shape="square", rate=1.0, depth=0.2, param="y")
    reg = show_registry(a, b)
    reg.set("y", 2.9)                                         # near the top of an overblend range
    mod = Modulation([a, b], reg)
    ft = FakeClock().tick()
    assert mod.apply(reg.snapshot(0.0).values, ft)["y"] == 3.0     # 2.9 + 0.3 + 0.2, clamped
    reg.set("y", 1.0)
    assert mod.apply(reg.snapshot(0.0).values, ft)["y"] == pytest.approx(1.5)  # both add
    reg.set("y", -1.9)
    reg.set("mod.a.depth", -1.0)
    reg.set("mod.b.depth", -1.0)
    reg.jump()
    assert mod.apply(reg.snapshot(0.0).values, ft)["y"] == -2.0    # below the range, clamped


def test_base_values_and_feedback_are_untouched():
    cfg = lfo(shape="sine", rate=1.3, depth=0.2)
    reg = show_registry(cfg)
    reg.set("x", 0.25, source="fader")
    reg.drain_changes()
    values = run([cfg], 20, reg=reg)
    assert len({round(v["x"], 6) for v in values}) > 10      # it moves...
    assert reg.get("x") == 0.25                              # ...but the fader's value stays
    assert reg.drain_changes() == {}                         # and nothing is fed back
    snap = reg.snapshot(0.0)
    assert snap["x"] == 0.25


def test_no_modulators_return_the_snapshot_itself():
    reg = show_registry()
    snap = reg.snapshot(0.0)
    mod = Modulation([], reg)
    assert not mod
    assert mod.apply(snap.values, FakeClock().tick()) is snap.values


def test_depth_zero_leaves_values_exact():
    cfg = lfo(shape="sine", rate=1.0, depth=1.0)
    reg = show_registry(cfg)
    reg.set("mod.m.depth", 0.0)
    reg.jump()
    for v in run([cfg], 10, reg=reg):
        assert v["x"] == 0.5


def test_envelope_follower_attack_release_gain_and_gate():
    cfg = envelope(attack=0.1, release=0.5, gain=2.0, gate=0.1, depth=0.4)
    reg = show_registry(cfg)
    mod = Modulation([cfg], reg)
    clock = FakeClock(fps=100)

    def frames(n, level):
        reg.set("audio.low", level, source=("audio",))
        out = []
        for _ in range(n):
            ft = clock.tick()
            out.append(mod.apply(reg.snapshot(ft.dt).values, ft)["x"] - 0.5)
        return out

    assert frames(20, 0.05) == [0.0] * 20                    # below the gate: nothing moves
    rise = frames(10, 0.5)                                  # x gain 2 = 1.0 (the envelope's top)
    assert rise[-1] == pytest.approx(0.4 * (1 - math.exp(-0.1 / 0.1)), rel=1e-6)  # 63 % after one attack
    frames(90, 0.5)
    fall = frames(50, 0.0)
    top = 0.4 * (1 - math.exp(-1.0 / 0.1))
    assert fall[-1] == pytest.approx(top * math.exp(-0.5 / 0.5), rel=1e-6)


def test_deterministic_under_the_fake_clock():
    cfgs = [lfo(name="a", shape="smooth-random", rate=0.7, seed=3, depth=0.3),
            lfo(name="b", shape="triangle", sync=True, beats=2.0, depth=1.0, param="y"),
            envelope(name="e", attack=0.02, release=0.2, param="y", depth=0.5)]

    def feed(i, reg, mod):
        reg.set("audio.low", 0.8 if i % 7 == 0 else 0.0)

    assert run(cfgs, 90, between=feed) == run(cfgs, 90, between=feed)


@pytest.mark.parametrize(("cfg", "message"), [
    (lfo(param="nope"), "unknown parameter 'nope'"),
    (lfo(param="n"), "n is a int parameter; modulators drive float parameters only"),
    (lfo(param="audio.low"), "audio.low is a measured value (read-only)"),
    (lfo(name="a", param="mod.a.depth"), "belongs to a modulator"),
    (envelope(source="audio.kick"), "source 'audio.kick' is not a parameter"),
])
def test_bad_routes_name_the_entry(cfg, message):
    cfg = ModulatorConfig(**{**cfg.__dict__, "origin": "show.toml: [[mod]] #1 (m)"})
    reg = show_registry(cfg)
    with pytest.raises(ModulationError) as e:
        Modulation([cfg], reg)
    assert str(e.value).startswith("show.toml: [[mod]] #1 (m)")
    assert message in str(e.value)


def test_rebind_after_a_swap_drops_routes_to_missing_parameters():
    cfg = ModulatorConfig(name="m", routes=(Route("x", 0.5), Route("y", 1.0)), shape="square", rate=1.0)
    reg = show_registry(cfg)
    mod = Modulation([cfg], reg)
    reg.remove(["y"])
    problems = mod.rebind(reg)
    assert len(problems) == 1 and "'y'" in problems[0]
    values = mod.apply(reg.snapshot(0.0).values, FrameTime(0, 0.0, 0.0, 0.0, 120.0))
    assert values["x"] == 1.0 and "y" not in values


def test_params_declare_every_live_value():
    names = {s.name for s in params([lfo(), envelope()])}
    for key in ("depth", "offset", "polarity", "shape", "rate", "sync", "beats", "phase", "width", "seed",
                "restart"):
        assert f"mod.m.{key}" in names
    for key in ("depth", "offset", "polarity", "attack", "release", "gain", "gate"):
        assert f"mod.e.{key}" in names
    reg = show_registry(lfo())
    reg.set("mod.m.shape", "square")                         # choices by name, as OSC can send them
    assert reg.get("mod.m.shape") == 4.0
