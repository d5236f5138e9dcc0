"""bias_act over every activation, dim, gain and clamp, against the formula written out by hand."""

from __future__ import annotations

import math

import pytest
import torch

from stylegan_ops import ACTIVATIONS, bias_act

EXPECTED = {  # name -> (formula in float64, default alpha, default gain)
    "linear": (lambda x, a: x, 0.0, 1.0),
    "relu": (lambda x, a: x.clamp(min=0), 0.0, math.sqrt(2)),
    "lrelu": (lambda x, a: torch.where(x >= 0, x, x * a), 0.2, math.sqrt(2)),
    "tanh": (lambda x, a: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, a: 1 / (1 + torch.exp(-x)), 0.0, 1.0),
    "elu": (lambda x, a: torch.where(x > 0, x, torch.exp(x) - 1), 0.0, 1.0),
    "selu": (lambda x, a: 1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * (torch.exp(x) - 1)),
             0.0, 1.0),
    "softplus": (lambda x, a: torch.log1p(torch.exp(x)), 0.0, 1.0),
    "swish": (lambda x, a: x / (1 + torch.exp(-x)), 0.0, math.sqrt(2)),
}


def test_activation_table_has_the_usual_defaults():
    assert set(ACTIVATIONS) == set(EXPECTED)
    for name, (_, alpha, gain) in EXPECTED.items():
        assert ACTIVATIONS[name][1:] == pytest.approx((alpha, gain)), name


@pytest.mark.parametrize("impl", ["ref", "fast"])
@pytest.mark.parametrize("act", list(EXPECTED))
def test_bias_act_matches_formula(impl, act):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 4, 5, generator=gen) * 3
    formula, def_alpha, def_gain = EXPECTED[act]
    for dim in (0, 1, 3, -1):
        b = torch.randn(x.shape[dim], generator=gen)
        shape = [-1 if i == dim % 4 else 1 for i in range(4)]
        for alpha, gain, clamp in [(None, None, None), (0.1, 0.5, None), (None, 2.0, 1.5), (0.3, None, 0.0)]:
            out = bias_act(x, b, dim=dim, act=act, alpha=alpha, gain=gain, clamp=clamp, impl=impl)
            a = def_alpha if alpha is None else alpha
            ref = formula(x.double() + b.double().reshape(shape), a) * (def_gain if gain is None else gain)
            if clamp is not None:
                ref = ref.clamp(-clamp, clamp)  # clamp comes after the gain
            torch.testing.assert_close(out, ref.float(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", ["ref", "fast"])
def test_bias_act_never_modifies_its_input(impl):
    x = torch.randn(2, 4, 3, 3)
    before = x.clone()
    out = bias_act(x, None, act="lrelu", clamp=0.5, impl=impl)
    assert torch.equal(x, before)
    assert out.abs().max() <= 0.5 and not torch.equal(out, x)


def test_bias_act_rejects_bad_arguments():
    x = torch.zeros(1, 3, 2, 2)
    with pytest.raises(ValueError, match="'ref', 'fast'"):
        bias_act(x, impl="cuda2")
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        bias_act(x, act="gelu")
    with pytest.raises(ValueError, match="does not match dim 1"):
        bias_act(x, torch.zeros(4))
