"""conv2d_resample and the modulated convolutions against per-sample definitions written out plainly."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import stylegan_ops.modulated_conv as modulated_conv_module
from stylegan_ops import conv2d_resample, modulated_conv2d, modulated_conv2d_sg3, setup_filter
from tests.ops.naive import assert_close, naive_upfirdn2d

IMPLS = ["ref", "fast"]


def naive_conv2d_resample(x, w, f, up, down, padding, flip_weight, groups=1):
    """Upsample with f (gain up**2) on widened padding, convolve, downsample with f; all in float64."""
    fw = 1 if f is None else f.shape[-1]
    p0, p1 = padding, padding
    if up > 1:
        p0, p1 = p0 + (fw + up - 1) // 2, p1 + (fw - up) // 2
    if down > 1:
        p0, p1 = p0 + (fw - down + 1) // 2, p1 + (fw - down) // 2
    x = naive_upfirdn2d(x, f if up > 1 else None, (up, up), (1, 1), (p0, p1, p0, p1), gain=up * up)
    w = w.double() if flip_weight else w.double().flip([2, 3])
    x = F.conv2d(x, w, groups=groups)
    return naive_upfirdn2d(x, f, (1, 1), (down, down)) if down > 1 else x


def naive_modulated_conv2d(x, weight, styles, noise, up, down, padding, f, demodulate, flip_weight):
    outs = []
    for n in range(x.shape[0]):
        w = weight.double() * styles[n].double().reshape(1, -1, 1, 1)  # [O, I, k, k]
        if demodulate:
            w = w / (w.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        outs.append(naive_conv2d_resample(x[n:n + 1], w, f, up, down, padding, flip_weight))
    out = torch.cat(outs)
    return out if noise is None else out + noise.double()


@pytest.mark.parametrize("size", [(6, 7), (32, 33)])  # fast switches to channels_last from 32x32 pixels
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("k", [1, 3])
def test_conv2d_resample_matches_definition(impl, k, size):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, *size, generator=gen)  # [N, C, H, W]
    f = setup_filter([1, 3, 3, 1])
    for (up, down), flip, groups, pad in itertools.product([(1, 1), (2, 1), (1, 2), (2, 2), (4, 1)],
                                                         [True, False], [1, 2], [0, k // 2, 2]):
        w = torch.randn(6, 4 // groups, k, k, generator=gen)
        out = conv2d_resample(x, w, f, up=up, down=down, padding=pad, groups=groups, flip_weight=flip,
                              impl=impl)
        assert_close(out, naive_conv2d_resample(x, w, f, up, down, pad, flip, groups))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("up,down", [(1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("fused", [True, False])
def test_modulated_conv2d_matches_per_sample_definition(impl, up, down, demodulate, fused):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(3, 5, 8, 8, generator=gen)
    weight = torch.randn(4, 5, 3, 3, generator=gen)
    styles = torch.randn(3, 5, generator=gen) + 1
    f = setup_filter([1, 3, 3, 1])
    size = 8 * up // down
    noise = torch.randn(3, 1, size, size, generator=gen)
    flip = up == 1  # what StyleGAN2 passes
    out = modulated_conv2d(x, weight, styles, noise=noise, up=up, down=down, padding=1, resample_filter=f,
                           demodulate=demodulate, flip_weight=flip, fused_modconv=fused, impl=impl)
    assert out.shape == (3, 4, size, size)
    ref = naive_modulated_conv2d(x, weight, styles, noise, up, down, 1, f, demodulate, flip)
    assert_close(out, ref)


def test_fused_and_unfused_agree_and_demodulation_normalises():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 6, 5, 5, generator=gen)
    weight = torch.randn(3, 6, 3, 3, generator=gen)
    styles = torch.rand(2, 6, generator=gen) * 10
    a = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=True)
    b = modulated_conv2d(x, weight, styles, padding=1, fused_modconv=False)
    assert_close(a, b)
    # Demodulation makes the output independent of the style's overall scale; without it, it scales.
    c = modulated_conv2d(x, weight, styles * 7, padding=1)
    assert_close(a, c)
    d = modulated_conv2d(x, weight, styles * 7, padding=1, demodulate=False)
    assert_close(d, 7 * modulated_conv2d(x, weight, styles, padding=1, demodulate=False))


def test_fp16_prenormalisation_keeps_the_result():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(1, 8, 6, 6, generator=gen)
    weight = torch.randn(4, 8, 3, 3, generator=gen) * 100
    styles = torch.randn(1, 8, generator=gen) * 1000
    ref = modulated_conv2d(x, weight, styles, padding=1)
    half = modulated_conv2d(x.half(), weight, styles, padding=1, fused_modconv=False)
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    assert (half.float() - ref).abs().max() < 2e-2 * ref.abs().max()


def naive_sg3(x, w, s, demodulate, padding, input_gain):
    x, w, s = x.double(), w.double(), s.double()
    if demodulate:
        w = w / w.square().mean(dim=[1, 2, 3], keepdim=True).sqrt()
        s = s / s.square().mean().sqrt()  # RMS over the whole batch of styles
    outs = []
    for n in range(x.shape[0]):
        wn = w * s[n].reshape(1, -1, 1, 1)
        if demodulate:
            wn = wn / (wn.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        if input_gain is not None:
            wn = wn * input_gain.double().expand(x.shape[0], -1)[n].reshape(1, -1, 1, 1)
        outs.append(F.conv2d(x[n:n + 1], wn, padding=padding))
    return torch.cat(outs)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("batch,gain_shape", [(1, None), (1, (6,)), (2, None), (2, (6,)), (2, (2, 6))])
def test_modulated_conv2d_sg3_matches_definition(impl, demodulate, batch, gain_shape):
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(batch, 6, 9, 7, generator=gen)
    w = torch.randn(5, 6, 3, 3, generator=gen)
    s = torch.randn(batch, 6, generator=gen) * 3
    gain = None if gain_shape is None else torch.rand(gain_shape, generator=gen) + 0.5
    out = modulated_conv2d_sg3(x, w, s, demodulate=demodulate, padding=2, input_gain=gain, impl=impl)
    assert out.shape == (batch, 5, 11, 9)
    assert_close(out, naive_sg3(x, w, s, demodulate, 2, gain))


@pytest.mark.skipif(not torch.backends.nnpack.is_available(), reason="PyTorch built without NNPACK")
@pytest.mark.parametrize("batch", [1, 2])
def test_winograd_convolutions_of_the_fast_path_match_the_definition(monkeypatch, batch):
    """impl='fast' sends large 3x3 convolutions to NNPACK's Winograd kernel; forced here for small ones."""
    calls = []
    nnpack = torch._nnpack_spatial_convolution
    monkeypatch.setattr(torch, "_nnpack_spatial_convolution", lambda *a: calls.append(1) or nnpack(*a))
    monkeypatch.setattr(modulated_conv_module, "WINOGRAD_MIN_MACS", 0)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(batch, 16, 12, 10, generator=gen)
    weight = torch.randn(8, 16, 3, 3, generator=gen)
    styles = torch.randn(batch, 16, generator=gen) + 1
    noise = torch.randn(batch, 1, 12, 10, generator=gen)
    out = modulated_conv2d(x, weight, styles, noise=noise, padding=1, impl="fast")
    assert_close(out, naive_modulated_conv2d(x, weight, styles, noise, 1, 1, 1, None, True, True))
    gain = torch.rand(16, generator=gen) + 0.5
    out = modulated_conv2d_sg3(x, weight, styles, padding=2, input_gain=gain, impl="fast")
    assert_close(out, naive_sg3(x, weight, styles, True, 2, gain))
    assert len(calls) == (2 if batch == 1 else 0)  # NNPACK's batched kernel is slower than the direct one


def test_modulated_conv_rejects_mismatched_shapes_and_impl():
    x = torch.zeros(1, 4, 5, 5)
    with pytest.raises(ValueError, match="do not fit"):
        modulated_conv2d(x, torch.zeros(3, 5, 3, 3), torch.ones(1, 5))
    with pytest.raises(ValueError, match="'ref', 'fast'"):
        modulated_conv2d_sg3(x, torch.zeros(3, 4, 3, 3), torch.ones(1, 4), impl="opencl")
