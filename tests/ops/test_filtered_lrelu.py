"""filtered_lrelu against the zero-stuffing definition, over filters, factors, paddings and clamps."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from stylegan_ops import filtered_lrelu, setup_filter
from stylegan_ops.filtered_lrelu import output_shape
from tests.ops.naive import assert_close, naive_filtered_lrelu

IMPLS = ["ref", "fast"]


def _filter(taps, two_d, gen):
    if taps == 0:
        return None
    f = torch.rand(taps, generator=gen) + 0.2
    return setup_filter(torch.outer(f, torch.rand(taps, generator=gen) + 0.2) if two_d else f, separable=not two_d)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("up,down", [(1, 1), (2, 2), (2, 1), (1, 2), (4, 2), (2, 4), (4, 4)])
@pytest.mark.parametrize("two_d", [False, True])
def test_filtered_lrelu_matches_zero_stuffing_definition(impl, up, down, two_d):
    gen = torch.Generator().manual_seed(up * 10 + down + two_d)
    x = torch.randn(2, 3, 9, 7, generator=gen) * 2  # [N, C, H, W], non-square
    b = torch.randn(3, generator=gen)
    checked = 0
    activations = [(math.sqrt(2), 0.2, None), (1.0, 1.0, None), (2.0, 0.1, 0.7)]  # (gain, slope, clamp)
    for i, (fu_taps, fd_taps, pad) in enumerate(itertools.product(
            [0, 5, 6 * up] if up > 1 else [0, 3], [0, 4, 6 * down + 1] if down > 1 else [0, 3],
            [(0, 0, 0, 0), (5, 4, 6, 3), (-1, 3, 2, -2)])):
        flip, (gain, slope, clamp) = i % 2 == 1, activations[i % 3]
        fu, fd = _filter(fu_taps, two_d, gen), _filter(fd_taps, two_d, gen)
        shape = output_shape(tuple(x.shape), fu, fd, up, down, pad)
        if min(shape) < 1 or 9 * up + pad[2] + pad[3] < max(fu_taps, 1):
            continue
        out = filtered_lrelu(x, fu, fd, b, up=up, down=down, padding=pad, gain=gain, slope=slope, clamp=clamp,
                             flip_filter=flip, impl=impl)
        assert out.shape == shape
        ref = naive_filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp, flip)
        assert_close(out, ref)
        checked += 1
    assert checked >= 10


def _sg3_layer_geometry(in_size, out_size, up, down, up_taps, down_taps, conv_kernel=3):
    """The padding a StyleGAN3 synthesis layer passes (official convention)."""
    pad_total = (out_size - 1) * down + 1 - (in_size + conv_kernel - 1) * up + up_taps + down_taps - 2
    pad_lo = (pad_total + up) // 2
    return [pad_lo, pad_total - pad_lo, pad_lo, pad_total - pad_lo]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("in_size,out_size,up,down", [(36, 36, 2, 2), (36, 52, 4, 2), (52, 64, 2, 1), (64, 64, 2, 2)])
def test_stylegan3_layer_padding_gives_the_layer_size(impl, in_size, out_size, up, down):
    gen = torch.Generator().manual_seed(7)
    up_taps, down_taps = 6 * up, 6 * down if down > 1 else 1
    fu = setup_filter(torch.rand(up_taps, generator=gen), separable=True)
    fd = setup_filter(torch.rand(down_taps, generator=gen), separable=True) if down > 1 else None
    x = torch.randn(1, 2, in_size + 2, in_size + 2, generator=gen)  # after a 3x3 conv padded by 2
    pad = _sg3_layer_geometry(in_size, out_size, up, down, up_taps, down_taps)
    b = torch.randn(2, generator=gen)
    out = filtered_lrelu(x, fu, fd, b, up=up, down=down, padding=pad, clamp=0.5, impl=impl)
    assert out.shape == (1, 2, out_size, out_size)
    assert_close(out, naive_filtered_lrelu(x, fu, fd, b, up, down, pad, math.sqrt(2), 0.2, 0.5, False))


def test_filtered_lrelu_rejects_bad_arguments():
    x = torch.zeros(1, 2, 8, 8)
    with pytest.raises(ValueError, match="'ref', 'fast'"):
        filtered_lrelu(x, impl="cuda_fast")
    with pytest.raises(ValueError, match="slope >= 0"):
        filtered_lrelu(x, slope=-1)
