"""upfirdn2d and its wrappers against the zero-stuffing definition, over a grid of arguments."""

from __future__ import annotations

import itertools

import pytest
import torch

from stylegan_ops import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d
from tests.ops.naive import assert_close, naive_upfirdn2d

IMPLS = ["ref", "fast"]
SCALINGS = [(1, 1), (2, 2), (4, 4), (2, 1), (1, 4)]
PADDINGS = [(0, 0, 0, 0), (2, 1, 3, 0), (-1, 2, 1, -2), (5, 5, 4, 4)]


def _filters():
    gen = torch.Generator().manual_seed(1)
    return {
        "none": None,
        "1d_even": torch.rand(4, generator=gen) + 0.1,
        "1d_odd": torch.rand(5, generator=gen) + 0.1,
        "2d_odd_even": torch.rand(3, 4, generator=gen),
        "1d_single": torch.tensor([1.5]),
    }


FILTERS = _filters()


@pytest.mark.parametrize("size", [(7, 10), (32, 33)])  # fast switches to channels_last from 32x32 pixels
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("fname", list(FILTERS))
@pytest.mark.parametrize("up", SCALINGS)
def test_upfirdn2d_matches_zero_stuffing_definition(impl, fname, up, size):
    f = FILTERS[fname]
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))  # [N, C, H, W], non-square
    checked = 0
    for down, pad, flip, gain in itertools.product(SCALINGS, PADDINGS, [False, True], [1.0, 3.0]):
        fw, fh = (1, 1) if f is None else (f.shape[-1], f.shape[0])
        if x.shape[3] * up[0] + pad[0] + pad[1] < fw or x.shape[2] * up[1] + pad[2] + pad[3] < fh:
            continue
        out = upfirdn2d(x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=gain, impl=impl)
        ref = naive_upfirdn2d(x, f, up=up, down=down, pad=pad, flip_filter=flip, gain=gain)
        assert_close(out, ref)
        checked += 1
    assert checked > 50


@pytest.mark.parametrize("impl", IMPLS)
def test_padding_forms_and_scalar_factors_are_equivalent(impl):
    x = torch.randn(1, 2, 6, 5)
    f = setup_filter([1, 2, 1])
    a = upfirdn2d(x, f, up=2, down=2, padding=(3, 2), impl=impl)
    b = upfirdn2d(x, f, up=(2, 2), down=(2, 2), padding=(3, 3, 2, 2), impl=impl)
    torch.testing.assert_close(a, b)
    assert_close(a, naive_upfirdn2d(x, f, (2, 2), (2, 2), (3, 3, 2, 2)))


def test_setup_filter_matches_stylegan2_resample_filter():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4)  # short taps become the 2-D outer product, as StyleGAN2 stores them
    taps = torch.tensor([1.0, 3, 3, 1])
    torch.testing.assert_close(f, torch.outer(taps, taps) / 64)
    assert setup_filter(torch.arange(1.0, 9.0)).shape == (8,)  # 8 or more taps stay separable
    assert setup_filter([1, 2], separable=True).shape == (2,)
    g = setup_filter([1, 2, 3], normalize=False, flip_filter=True, gain=4, separable=True)
    torch.testing.assert_close(g, torch.tensor([3.0, 2, 1]) * 2)  # gain ** (ndim / 2)
    assert setup_filter(None).shape == (1, 1)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("separable", [True, False])
def test_wrappers_keep_size_and_dc_gain(impl, separable):
    f = setup_filter([1, 3, 3, 1], separable=separable)
    x = torch.full((1, 2, 8, 6), 2.0)
    up = upsample2d(x, f, up=2, impl=impl)
    down = downsample2d(x, f, down=2, impl=impl)
    same = filter2d(x, f, impl=impl)
    assert up.shape == (1, 2, 16, 12) and down.shape == (1, 2, 4, 3) and same.shape == x.shape
    # A constant image stays constant away from the borders (the filter is normalised, gain up**2).
    torch.testing.assert_close(up[:, :, 3:-3, 3:-3], torch.full_like(up[:, :, 3:-3, 3:-3], 2.0))
    torch.testing.assert_close(same[:, :, 2:-2, 2:-2], torch.full_like(same[:, :, 2:-2, 2:-2], 2.0))
    torch.testing.assert_close(down[:, :, 1:-1, 1:-1], torch.full_like(down[:, :, 1:-1, 1:-1], 2.0))


@pytest.mark.parametrize("impl", IMPLS)
def test_wrappers_match_definition_with_extra_padding(impl):
    x = torch.randn(2, 3, 5, 9)
    f = setup_filter([1, 2, 5, 2, 1, 3], separable=True)
    fw = 6
    assert_close(upsample2d(x, f, up=(2, 4), padding=(1, -1, 0, 2), impl=impl),
                 naive_upfirdn2d(x, f, (2, 4), (1, 1), (1 + (fw + 1) // 2, -1 + (fw - 2) // 2,
                                                        (fw + 3) // 2, 2 + (fw - 4) // 2), gain=8))
    assert_close(downsample2d(x, f, down=2, padding=1, impl=impl),
                 naive_upfirdn2d(x, f, (1, 1), (2, 2), (1 + (fw - 1) // 2, 1 + (fw - 2) // 2) * 2))


def test_unknown_impl_names_allowed_values():
    with pytest.raises(ValueError, match="'ref', 'fast'"):
        upfirdn2d(torch.zeros(1, 1, 4, 4), None, impl="cuda-ish")
