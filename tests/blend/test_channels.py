"""Channel-wise blending: blend.channel.fraction / order / seed on top of the layer values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.blend import MaskError, compose, params
from engine.blend.channels import selected_count
from engine.blend.generator import BlendedGenerator

CONV = "synthesis.b16.conv0.weight"       # layer 5 of the 64 px model: [64, 128, 3, 3]
BIAS = "synthesis.b16.conv0.bias"


def state(blended, values):
    blended.apply(compose(values, len(blended.layers)))
    return blended.state_dict()


def every_layer(t: float, n: int) -> dict[str, float]:
    return {f"blend.layer.{i}": t for i in range(n)}


@pytest.fixture
def blended(sg2_pair):
    return BlendedGenerator(list(sg2_pair))


def test_fraction_1_is_the_layer_blend_and_0_is_model_a(blended, sg2_pair):
    A, _ = sg2_pair
    n = len(blended.layers)
    values = {**every_layer(0.7, n), "blend.mapping": 0.4}
    plain = state(blended, values)
    zero = state(blended, {**values, "blend.channel.fraction": 0.0})
    full = state(blended, {**values, "blend.channel.fraction": 1.0})
    sa = A.state_dict()
    assert all(torch.equal(full[k], plain[k]) for k in plain)            # exactly the layer blend
    for key in plain:
        if key.startswith("mapping."):
            assert torch.equal(zero[key], plain[key])                    # the mapping keeps blend.mapping
        else:
            assert torch.equal(zero[key], sa[key]), key                  # model A, bit for bit


@pytest.mark.parametrize("order", ["most", "least"])
def test_the_chosen_channels_are_the_most_or_least_changed(blended, sg2_pair, order):
    A, B = sg2_pair
    n = len(blended.layers)
    sa, sb = A.state_dict(), B.state_dict()
    mixed = state(blended, {**every_layer(1.0, n), "blend.channel.fraction": 0.25,
                            "blend.channel.order": order})
    # independent ranking: float64 numpy over the weight and bias rows of each output channel
    delta = ((sb[CONV] - sa[CONV]).double().numpy().reshape(64, -1) ** 2).sum(1) + \
        (sb[BIAS] - sa[BIAS]).double().numpy() ** 2
    ranked = np.argsort(-delta if order == "most" else delta, kind="stable")
    chosen = set(ranked[:16].tolist())
    from_b = {c for c in range(64) if torch.equal(mixed[CONV][c], sb[CONV][c])}
    from_a = {c for c in range(64) if torch.equal(mixed[CONV][c], sa[CONV][c])}
    assert from_b == chosen and from_a == set(range(64)) - chosen
    assert {c for c in range(64) if mixed[BIAS][c] == sb[BIAS][c]} == chosen   # weight and bias together


def test_the_selected_channels_carry_the_layer_value(blended, sg2_pair):
    A, _ = sg2_pair
    n = len(blended.layers)
    values = every_layer(0.5, n) | {"blend.layer.5": 1.5}               # overblend composes too
    plain = state(blended, values)
    mixed = state(blended, {**values, "blend.channel.fraction": 0.5, "blend.channel.order": "random"})
    sa = A.state_dict()
    rows_blend = {c for c in range(64) if torch.equal(mixed[CONV][c], plain[CONV][c])}
    rows_a = {c for c in range(64) if torch.equal(mixed[CONV][c], sa[CONV][c])}
    assert len(rows_blend) == 32 and rows_a == set(range(64)) - rows_blend


def test_random_order_follows_its_seed(blended):
    n = len(blended.layers)
    picks = []
    for seed in (0, 0, 1):
        mixed = state(blended, {**every_layer(1.0, n), "blend.channel.fraction": 0.5,
                                "blend.channel.order": "random", "blend.channel.seed": seed})
        picks.append(mixed[CONV].clone())
        blended.apply(compose({}, n))                                    # back to A in between
    assert torch.equal(picks[0], picks[1]) and not torch.equal(picks[0], picks[2])


def test_channel_blending_is_an_in_place_write(blended):
    n = len(blended.layers)
    live = blended.live.synthesis.b16.conv0.weight
    pointer, stack = live.data_ptr(), blended._stacks.stack.data_ptr()
    for fraction in (0.3, 0.6, 0.0, 1.0, 0.5):
        blended.apply(compose({**every_layer(0.8, n), "blend.channel.fraction": fraction}, n))
    assert blended.live.synthesis.b16.conv0.weight is live and live.data_ptr() == pointer
    assert blended._stacks.stack.data_ptr() == stack
    written = blended.apply(compose({**every_layer(0.9, n), "blend.channel.fraction": 0.5}, n))
    assert 0 < written < len(blended._stacks.keys)                      # a t change rewrites only the layers
    blended.apply(compose({**every_layer(0.9, n), "blend.channel.fraction": 0.5}, n))
    assert blended.apply(compose({**every_layer(0.9, n), "blend.channel.fraction": 0.5}, n)) == 0


def test_units_round_half_up_and_scalars_switch_at_half():
    assert [selected_count(f, 64) for f in (0.0, 0.25, 0.5, 1.0)] == [0, 16, 32, 64]
    assert [selected_count(f, 1) for f in (0.0, 0.49, 0.5, 1.0)] == [0, 0, 1, 1]
    assert selected_count(0.5, 3) == 2


def test_channel_parameters_and_bad_orders():
    names = {spec.name: spec for spec in params(10)}
    assert names["blend.channel.fraction"].default == 1.0
    assert names["blend.channel.order"].choices == ("most", "least", "random")
    assert compose({"blend.channel.order": 2.0}, 10).channels == (1.0, "random", 0)
    assert compose({"blend.channel.fraction": 7.0}, 10).channels[0] == 1.0
    with pytest.raises(MaskError, match="blend.channel.order: 'loud' is not one of most, least, random"):
        compose({"blend.channel.order": "loud"}, 10)
