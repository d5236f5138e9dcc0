"""Convolution with resampling, and the StyleGAN2 / StyleGAN3 modulated convolutions.

Weight conventions (as in the official models): ``weight`` is [O, I, kh, kw];
``flip_weight=True`` means ``conv2d`` semantics (correlation), ``flip_weight=False`` a true
convolution (the kernel flipped). StyleGAN2 passes ``flip_weight=(up == 1)``.

``impl='fast'`` runs every convolution in channels_last (oneDNN's fast layout on CPU: 1.5-3x faster
than NCHW for these shapes) and never builds per-sample weights for a grouped convolution.
``impl='triton'`` and ``'cuda'`` use the same formulation for the convolutions themselves (cuDNN on a
GPU) and pass ``impl`` on to their FIR stages (``upfirdn2d``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .bias_act import check_impl
from .upfirdn2d import IntPair, fast_layout, filter_size, parse_padding, upfirdn2d


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, padding: tuple[int, int] = (0, 0),
          groups: int = 1, transpose: bool = False, flip_weight: bool = True) -> torch.Tensor:
    """conv2d / conv_transpose2d where ``flip_weight=False`` flips the kernel first."""
    if not flip_weight and (w.shape[2] > 1 or w.shape[3] > 1):
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


# Winograd F(6x6, 3x3) (NNPACK) does ~2.5x fewer multiplications than a direct 3x3 convolution, but
# transforms every tile: on a 2-core AVX-512 CPU it was 1.1-2x faster than oneDNN's channels_last
# direct convolution from ~1e9 multiply-adds up (512 ch at 36 px, 256 ch at 128 px, 128 ch at 148 px)
# and slower below (0.4-0.95x). Its error stays at float32 rounding level (~1e-5 of the output's
# range per convolution; a whole StyleGAN3-T-128 frame differs from 'ref' by < 1e-6 of its range).
WINOGRAD_MIN_MACS = 1e9


_NNPACK: list[bool] = []          # whether NNPACK initialised, once an eager call asked (read while tracing)


def _nnpack_ready() -> bool:
    if torch.compiler.is_compiling():
        return bool(_NNPACK and _NNPACK[0])    # a traced frame follows its eager warm-up frame
    if not _NNPACK:
        _NNPACK.append(bool(torch.backends.nnpack.is_available()))  # also initialises NNPACK
    return _NNPACK[0]


@torch.library.custom_op("stylegan_ops::winograd_conv2d", mutates_args=())
def _winograd_conv2d(x: torch.Tensor, w: torch.Tensor, padding: int) -> torch.Tensor:
    """NNPACK's Winograd convolution as one opaque op, so a compiled frame keeps it (NCHW result)."""
    return torch._nnpack_spatial_convolution(x.contiguous(), w.contiguous(), None, [padding, padding])


@_winograd_conv2d.register_fake
def _(x, w, padding):
    n, _, h, width = x.shape
    return x.new_empty((n, w.shape[0], h + 2 * padding - 2, width + 2 * padding - 2))


def dense_conv2d(x: torch.Tensor, w: torch.Tensor, padding: int) -> torch.Tensor:
    """``F.conv2d(x, w, padding=padding)`` (stride 1, no groups) by the fastest CPU algorithm.

    Large 3x3 float32 convolutions of one image go through NNPACK's Winograd kernel (NCHW result;
    its batched kernel measured 4x slower per image, so batches stay direct), wrapped as the custom op
    ``stylegan_ops::winograd_conv2d`` with a shape function, so torch.compile keeps it (inductor alone
    picks oneDNN's direct convolution: a compiled StyleGAN3-T-64 frame ran x0.68 of eager; with the
    Winograd op x1.06); other k x k ones run in ``fast_layout`` through oneDNN; 1x1 ones in the input's
    layout.
    """
    n, in_channels, h, width = x.shape
    out_channels, _, kh, kw = w.shape
    macs = n * out_channels * in_channels * kh * kw * (h + 2 * padding - 2) * (width + 2 * padding - 2)
    if (n == 1 and kh == kw == 3 and 0 <= padding <= 2 and macs >= WINOGRAD_MIN_MACS and x.device.type == "cpu"
            and x.dtype == torch.float32 and not (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))
            and _nnpack_ready()):
        return _winograd_conv2d(x, w, padding)
    if kh * kw > 1:  # a 1x1 convolution is one matrix product in either layout: no layout copy
        x = x.contiguous(memory_format=fast_layout(x))
    return F.conv2d(x, w, padding=padding)


def _resample_padding(f: torch.Tensor | None, up: int, down: int, padding: IntPair) -> list[int]:
    """``padding`` widened for the filter of an up- or downsampling convolution (see conv2d_resample)."""
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = parse_padding(padding)
    if up > 1:
        px0, px1 = px0 + (fw + up - 1) // 2, px1 + (fw - up) // 2
        py0, py1 = py0 + (fh + up - 1) // 2, py1 + (fh - up) // 2
    if down > 1:
        px0, px1 = px0 + (fw - down + 1) // 2, px1 + (fw - down) // 2
        py0, py1 = py0 + (fh - down + 1) // 2, py1 + (fh - down) // 2
    return [px0, px1, py0, py1]


def _upsampling_conv(x: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None, up: int, pad: list[int],
                     groups: int, flip_weight: bool, flip_filter: bool, impl: str) -> torch.Tensor:
    """A transposed strided convolution (zero-stuffing + convolution), then the filter."""
    out_channels, in_per_group, kh, kw = w.shape
    if groups == 1:
        wt = w.transpose(0, 1)  # [I, O, kh, kw]
    else:
        wt = w.reshape(groups, out_channels // groups, in_per_group, kh, kw).transpose(1, 2)
        wt = wt.reshape(groups * in_per_group, out_channels // groups, kh, kw)
    px0, px1, py0, py1 = pad
    px0, px1, py0, py1 = px0 - (kw - 1), px1 - (kw - up), py0 - (kh - 1), py1 - (kh - up)
    pxt, pyt = max(min(-px0, -px1), 0), max(min(-py0, -py1), 0)  # crop done by the conv itself
    x = _conv(x, wt, stride=up, padding=(pyt, pxt), groups=groups, transpose=True, flip_weight=not flip_weight)
    return upfirdn2d(x, f, padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain=up**2,
                     flip_filter=flip_filter, impl=impl)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: IntPair = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
    impl: str = "ref",
) -> torch.Tensor:
    """2-D convolution of ``x`` [N, I*groups, H, W] with ``w`` [O, I, kh, kw], with up/downsampling.

    Defined as: ``upfirdn2d(x, f, up, padding', gain=up**2)`` (f only when up > 1), then the
    convolution, then ``upfirdn2d(., f, down)``, where ``padding'`` is ``padding`` widened by
    ``((fw + up - 1) // 2, (fw - up) // 2)`` when upsampling and ``((fw - down + 1) // 2,
    (fw - down) // 2)`` when downsampling (likewise for y), so a size-preserving ``padding =
    kernel // 2`` gives ``H * up / down`` outputs. Computed with strided / transposed convolutions.
    """
    check_impl(impl)
    if not (isinstance(up, int) and isinstance(down, int) and up >= 1 and down >= 1):
        raise ValueError(f"up and down must be integers >= 1, got {up!r}, {down!r}")
    kh, kw = w.shape[2:]
    pad = _resample_padding(f, up, down, padding)
    px0, px1, py0, py1 = pad
    plain = up == 1 and down == 1 and px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0
    if impl != "ref" and not plain:
        x = x.contiguous(memory_format=fast_layout(x))  # plain convolutions choose their own

    if kw == 1 and kh == 1 and down > 1 and up == 1:  # 1x1: downsample first, then convolve
        x = upfirdn2d(x, f, down=down, padding=pad, flip_filter=flip_filter, impl=impl)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)
    if kw == 1 and kh == 1 and up > 1 and down == 1:  # 1x1: convolve first, then upsample
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(x, f, up=up, padding=pad, gain=up**2, flip_filter=flip_filter, impl=impl)
    if down > 1 and up == 1:  # filter, then strided convolution
        x = upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, impl=impl)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)
    if up > 1:  # transposed strided convolution (= zero-stuffing + convolution), then the filter
        x = _upsampling_conv(x, w, f, up, pad, groups, flip_weight, flip_filter, impl)
        if down > 1:
            x = upfirdn2d(x, f, down=down, flip_filter=flip_filter, impl=impl)
        return x
    if plain:
        if impl != "ref" and groups == 1 and px0 == py0:
            return dense_conv2d(x, w if flip_weight else w.flip([2, 3]), px0)
        return _conv(x, w, padding=(py0, px0), groups=groups, flip_weight=flip_weight)
    x = upfirdn2d(x, None, padding=pad, impl=impl)  # asymmetric or negative padding
    return _conv(x, w, groups=groups, flip_weight=flip_weight)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    noise: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: IntPair = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    flip_weight: bool = True,
    fused_modconv: bool = True,
    impl: str = "ref",
) -> torch.Tensor:
    """StyleGAN2 modulated convolution of ``x`` [N, I, H, W] with ``weight`` [O, I, kh, kw].

    Per sample n: ``w_n = weight * styles[n]`` (along I); with ``demodulate`` each output channel is
    divided by ``sqrt(sum(w_n**2) + 1e-8)``; then ``conv2d_resample`` (up/down with
    ``resample_filter``); then ``noise`` ([N or 1, 1 or O, H', W']) is added. ``fused_modconv=True``
    runs one grouped convolution with per-sample weights; ``False`` scales activations before and
    after a shared-weight convolution (same result). fp16 inputs are pre-normalised (as the official
    code does) to avoid overflow.
    """
    check_impl(impl)
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = weight.shape
    if x.ndim != 4 or x.shape[1] != in_channels or styles.shape != (batch, in_channels):
        raise ValueError(f"modulated_conv2d: x {tuple(x.shape)}, weight {tuple(weight.shape)} and "
                         f"styles {tuple(styles.shape)} do not fit ([N, I, H, W], [O, I, k, k], [N, I])")
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / math.sqrt(in_channels * kh * kw)
                           / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))  # [O, I, kh, kw]
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)  # [N, I]
    if impl != "ref":
        return _modulated_conv2d_fast(x, weight, styles, noise, up, down, padding, resample_filter, demodulate,
                                      flip_weight, impl)

    w = weight.unsqueeze(0) * styles.reshape(batch, 1, -1, 1, 1)  # [N, O, I, kh, kw]
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # [N, O]

    if not fused_modconv:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)  # [N, I, H, W]
        x = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, down=down, padding=padding,
                            flip_weight=flip_weight, impl=impl)  # [N, O, H', W']
        if dcoefs is not None:
            x = x * dcoefs.to(x.dtype).reshape(batch, -1, 1, 1)
        if noise is not None:
            x = x + noise.to(x.dtype)
        return x

    if dcoefs is not None:
        w = w * dcoefs.reshape(batch, -1, 1, 1, 1)  # [N, O, I, kh, kw]
    x = x.reshape(1, -1, *x.shape[2:])  # [1, N*I, H, W]
    w = w.reshape(-1, in_channels, kh, kw)  # [N*O, I, kh, kw]
    x = conv2d_resample(x, w.to(x.dtype), resample_filter, up=up, down=down, padding=padding, groups=batch,
                        flip_weight=flip_weight, impl=impl)  # [1, N*O, H', W']
    x = x.reshape(batch, -1, *x.shape[2:])  # [N, O, H', W']
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


def _modulated_conv2d_fast(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                           noise: torch.Tensor | None, up: int, down: int, padding: IntPair,
                           resample_filter: torch.Tensor | None, demodulate: bool,
                           flip_weight: bool, impl: str = "fast") -> torch.Tensor:
    """modulated_conv2d as one plain convolution per frame (layouts and algorithms as ``dense_conv2d``).

    Batch 1 modulates (and demodulates) the weight itself: an ordinary, ungrouped convolution. Larger
    batches modulate the activations instead (``x * styles``, the shared weight, then the output times
    the demodulation coefficients ``rsqrt((W**2).sum([2, 3]) @ styles**2)``), so no per-sample
    weights and no grouped convolution. Noise is added in place on the fresh result.
    """
    batch = x.shape[0]
    if demodulate:  # sum_{i,k} (W s_n)^2 = (sum_k W^2) @ s_n^2: one read of W, no modulated copy
        energy = _kernel_energy(weight) @ styles.square().t()  # [O, N]
        dcoefs = (energy.t() + 1e-8).rsqrt()  # [N, O]
    if batch == 1:
        scale = styles if not demodulate else dcoefs.t() * styles  # [1 or O, I]
        w = weight * scale.reshape(scale.shape[0], -1, 1, 1)  # [O, I, kh, kw], the only weight-size pass
        out = conv2d_resample(x, w.to(x.dtype), resample_filter, up=up, down=down, padding=padding,
                              flip_weight=flip_weight, impl=impl)  # [1, O, H', W']
    else:
        x = x * styles.to(x.dtype).reshape(batch, -1, 1, 1)  # [N, I, H, W]
        out = conv2d_resample(x, weight.to(x.dtype), resample_filter, up=up, down=down, padding=padding,
                              flip_weight=flip_weight, impl=impl)  # [N, O, H', W']
        if demodulate:
            out.mul_(dcoefs.to(x.dtype).reshape(batch, -1, 1, 1))
    if noise is not None:
        out.add_(noise.to(out.dtype))
    return out


def modulated_conv2d_sg3(
    x: torch.Tensor,
    w: torch.Tensor,
    s: torch.Tensor,
    demodulate: bool = True,
    padding: int = 0,
    input_gain: torch.Tensor | None = None,
    impl: str = "ref",
) -> torch.Tensor:
    """StyleGAN3 modulated convolution of ``x`` [N, I, H, W] with ``w`` [O, I, kh, kw], styles ``s`` [N, I].

    With ``demodulate``, ``w`` is first divided by its RMS per output channel and ``s`` by its RMS
    over the whole tensor (all samples, as the official code does), then ``w_n = w * s[n]`` is
    demodulated per output channel (``+1e-8``). ``input_gain`` ([I] or [N, I], e.g. the
    magnitude-EMA correction) scales the input channels. One grouped convolution with symmetric
    ``padding``; no resampling (StyleGAN3 resamples in filtered_lrelu).
    """
    check_impl(impl)
    batch = x.shape[0]
    out_channels, in_channels, kh, kw = w.shape
    if x.ndim != 4 or x.shape[1] != in_channels or s.shape != (batch, in_channels):
        raise ValueError(f"modulated_conv2d_sg3: x {tuple(x.shape)}, w {tuple(w.shape)} and "
                         f"s {tuple(s.shape)} do not fit ([N, I, H, W], [O, I, k, k], [N, I])")
    if impl != "ref":
        return _modulated_conv2d_sg3_fast(x, w, s, demodulate, padding, input_gain)
    if demodulate:
        w = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()  # [O, I, kh, kw]
        s = s * s.square().mean().rsqrt()  # [N, I]
    wn = w.unsqueeze(0) * s.reshape(batch, 1, in_channels, 1, 1)  # [N, O, I, kh, kw]
    if demodulate:
        wn = wn * (wn.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    if input_gain is not None:
        gain = input_gain.expand(batch, in_channels)  # [N, I]
        wn = wn * gain.reshape(batch, 1, in_channels, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])  # [1, N*I, H, W]
    x = F.conv2d(x, wn.reshape(-1, in_channels, kh, kw).to(x.dtype), padding=padding, groups=batch)
    return x.reshape(batch, -1, *x.shape[2:])  # [N, O, H', W']


def _kernel_energy(w: torch.Tensor) -> torch.Tensor:
    """``(w ** 2).sum([2, 3])`` [O, I] of a weight [O, I, kh, kw], in one read."""
    return torch.linalg.vector_norm(w, dim=(2, 3)).square()


def _modulated_conv2d_sg3_fast(x: torch.Tensor, w: torch.Tensor, s: torch.Tensor, demodulate: bool, padding: int,
                               input_gain: torch.Tensor | None) -> torch.Tensor:
    """modulated_conv2d_sg3 through ``dense_conv2d`` with no grouped convolution and one weight-size pass.

    The two RMS normalisations cancel in the demodulation except inside its epsilon, so they are folded
    into it: with ``E[n, o] = sum_i s[n, i]**2 * sum_k w[o, i, k]**2``, each output channel is scaled
    by ``rsqrt(E + 1e-8 * mean_{i,k}(w[o]**2) * mean(s**2))``, exactly the reference's factor. Batch 1
    convolves with ``w`` times that and ``s * input_gain``; larger batches scale activations instead.
    """
    batch, in_channels = s.shape
    out_channels, _, kh, kw = w.shape
    scale = s if input_gain is None else s * input_gain.expand(batch, in_channels)  # [N, I]
    if demodulate:
        energy = _kernel_energy(w)  # [O, I]
        eps = 1e-8 / (in_channels * kh * kw) * energy.sum(1) * s.square().mean()  # [O]
        dcoefs = (energy @ s.square().t() + eps[:, None]).rsqrt().t()  # [N, O]
    if batch == 1:
        full = scale if not demodulate else dcoefs.t() * scale  # [1 or O, I]
        wn = w * full.reshape(full.shape[0], in_channels, 1, 1)  # [O, I, kh, kw]
        return dense_conv2d(x, wn.to(x.dtype), padding)  # [1, O, H', W']
    out = dense_conv2d(x * scale.to(x.dtype).reshape(batch, in_channels, 1, 1), w.to(x.dtype), padding)
    if demodulate:
        out.mul_(dcoefs.to(x.dtype).reshape(batch, -1, 1, 1))
    return out  # [N, O, H', W']
