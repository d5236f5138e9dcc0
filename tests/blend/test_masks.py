"""Blend masks: the curve, composition rule, EZ presets, panic, and the mask syntax (pure math)."""

from __future__ import annotations

import math

import pytest

from engine.blend import masks
from engine.blend.masks import BlendState, MaskError, compose, curve
from engine.blend.spec import parse_mask
from engine.core.params import ParamRegistry
from engine.errors import NetblendError

# StyleGAN2 at 64 px: the layer resolutions of its 10 layers (index = w row).
SG2_64 = [4, 8, 8, 16, 16, 32, 32, 64, 64, 64]


def test_hard_curve_is_a_layer_swap_at_center():
    t = curve(10, amount=1.0, center=(5 - 0.5) / 9, width=0.0)
    assert t == [0.0] * 5 + [1.0] * 5
    assert curve(10, 1.0, (5 - 0.5) / 9, 0.0, "down") == [1.0] * 5 + [0.0] * 5


def test_wide_curve_is_a_flat_interpolation_and_soft_curve_is_monotonic():
    wide = curve(10, amount=1.0, center=0.5, width=1e6)
    assert all(abs(v - 0.5) < 1e-5 for v in wide)
    soft = curve(10, amount=1.0, center=0.5, width=1.0)
    assert all(a < b for a, b in zip(soft, soft[1:]))
    assert 0.0 < soft[0] < 0.02 and 0.98 < soft[-1] < 1.0


def test_compose_held_faders_are_t_the_rest_follow_the_curve_then_kinds_then_clamps():
    values = {"blend.curve.amount": 1.0, "blend.curve.center": 0.5, "blend.curve.width": 0.0,
              "blend.layer.0": 0.3, "blend.hold.0": 1.0, "blend.layer.9": 3.5, "blend.hold.9": 1.0,
              "blend.layer.8": 0.2, "blend.hold.8": 0.0, "blend.mapping": -7.0,
              "blend.kind.torgb": 0.25, "blend.kind.torgb.amount": 0.5}
    state = compose(values, 10)
    assert state.layers[0] == 0.3                       # held: the fader, whatever the curve says (0 there)
    assert state.layers[8] == 1.0                       # not held: the curve (1 there), the fader ignored
    assert state.layers[9] == 3.0                       # held at 3.5, clamped to the safety max 3
    assert state.faders[8] == 0.2 and state.holds[8] == 0.0 and state.mode == "absolute"   # for the overlay
    assert state.mapping == -2.0                        # clamped to safety min -2
    assert state.kinds == (("torgb", 0.25, 0.5),)
    assert compose({}, 4) == BlendState((0.0,) * 4)
    half = compose({**values, "blend.hold.8": 0.5}, 10)
    assert half.layers[8] == pytest.approx(0.6)         # a hold between 0 and 1 crossfades curve and fader


def test_offset_mode_adds_the_faders_to_the_curve():
    values = {"blend.curve.amount": 1.0, "blend.curve.center": 0.5, "blend.curve.width": 0.0,
              "blend.layer.0": 0.3, "blend.layer.9": 2.5, "blend.layer.mode": "offset"}
    state = compose(values, 10)
    assert state.layers[0] == pytest.approx(0.3)        # curve 0 + fader 0.3
    assert state.layers[9] == 3.0                       # curve 1 + fader 2.5, clamped to safety max 3
    assert compose({**values, "blend.layer.mode": 1.0}, 10) == state      # the choice by index


def test_a_dict_that_names_a_fader_without_its_hold_means_that_layer_at_that_value():
    state = compose({"blend.curve.amount": 1.0, "blend.curve.width": 0.0, "blend.layer.9": 0.25}, 10)
    assert state.layers[9] == 0.25 and state.layers[8] == 1.0 and state.layers[0] == 0.0


def test_compose_rejects_nan_and_inf():
    for bad in (math.nan, math.inf):
        with pytest.raises(NetblendError, match="finite"):
            compose({"blend.layer.2": bad}, 4)


def test_params_declare_the_architecture_names_and_round_trip_through_the_registry():
    reg = ParamRegistry()
    reg.add_all(masks.params(10))
    for name in ("blend.layer.9", "blend.curve.amount", "blend.curve.center", "blend.curve.width",
                 "blend.curve.direction", "blend.mapping", "blend.kind.torgb", "blend.kind.torgb.amount",
                 "blend.safety.min", "blend.safety.max", "blend.panic"):
        assert name in reg
    assert reg.set("blend.layer.3", 1.7) == 1.7                # overblend passes the registry
    reg.set("blend.curve.direction", "down")
    reg.update(masks.crossover(SG2_64, 16))                    # a preset sets direction back to up
    reg.jump()                                                  # no morph: smoothed values = targets
    state = compose(reg.snapshot().values, 10)
    assert state.layers[:4] == (0.0, 0.0, 0.0, 1.0)             # fader 3 reset by the preset


def test_ez_presets():
    assert compose(masks.interpolate(10, 0.3), 10) == BlendState((0.3,) * 10, mapping=0.3)
    assert compose(masks.crossover(SG2_64, 16), 10).layers == (0.0,) * 3 + (1.0,) * 7
    assert compose(masks.coarse(SG2_64), 10).layers == (1.0,) * 3 + (0.0,) * 7
    assert compose(masks.medium(SG2_64), 10).layers == (0.0,) * 3 + (1.0,) * 4 + (0.0,) * 3
    assert compose(masks.fine(SG2_64), 10).layers == (0.0,) * 7 + (1.0,) * 3
    up = compose(masks.ramp_up(5), 5).layers
    assert up == pytest.approx((0.0, 0.25, 0.5, 0.75, 1.0))
    assert compose(masks.ramp_down(5), 5).layers == pytest.approx(up[::-1])
    inv = compose(masks.inverse(masks.crossover(SG2_64, 16, width=1.0), 10), 10)
    soft = compose(masks.crossover(SG2_64, 16, width=1.0), 10)
    assert inv.layers == pytest.approx(tuple(1.0 - t for t in soft.layers))
    assert inv.mapping == 1.0
    assert compose(masks.panic_values(10), 10) == BlendState((0.0,) * 10)


def test_crossover_outside_the_model_names_its_resolutions():
    with pytest.raises(MaskError, match="4, 8, 16, 32, 64"):
        masks.crossover(SG2_64, 128)


def test_mask_syntax():
    assert parse_mask("interp=0.5", SG2_64) == compose(masks.interpolate(10, 0.5), 10)
    assert parse_mask("crossover@16", SG2_64).layers == (0.0,) * 3 + (1.0,) * 7
    soft = parse_mask("crossover@32:width=1", SG2_64).layers
    assert 0.0 < soft[4] < 0.5 < soft[5] < 1.0
    state = parse_mask("crossover@16; L3=0.7; mapping=0.25; torgb=1; 4:0,8:0,16:1", SG2_64)
    assert state.layers[3] == pytest.approx(0.7) and state.layers[4] == 1.0
    assert state.mapping == 0.25
    assert state.kinds == (("torgb", 1.0, 1.0),)
    assert state.resolutions == ((4, 0.0), (8, 0.0), (16, 1.0))
    assert parse_mask("coarse;inverse", SG2_64).layers == (0.0,) * 3 + (1.0,) * 7


@pytest.mark.parametrize("spec, message", [
    ("", "empty mask"),
    ("crossover@abc", "crossover@RESOLUTION"),
    ("crossover@16:depth=2", "unknown option"),
    ("interp=lots", "not a finite number"),
    ("interp=nan", "not a finite number"),
    ("L12=1", "L0..L9"),
    ("4:0,12:1", "no layers at resolution 12"),
    ("wobble", "not understood"),
])
def test_bad_mask_specs_say_what_is_wrong(spec, message):
    with pytest.raises(MaskError, match=message):
        parse_mask(spec, SG2_64)
