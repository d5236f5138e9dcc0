"""One representative call per op and argument family, on tensors of the caller's choosing (real CPU
tensors, or fake CUDA ones), for the per-call checks: no host sync and no graph break."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from stylegan_ops import (
    bias_act,
    downsample2d,
    filter2d,
    filtered_lrelu,
    modulated_conv2d,
    modulated_conv2d_sg3,
    setup_filter,
    upfirdn2d,
    upsample2d,
)

Call = Callable[[str], torch.Tensor]


def op_calls(convert: Callable[[torch.Tensor], torch.Tensor] = lambda t: t, size: int = 36) -> dict[str, Call]:
    """name -> call(impl). ``size`` >= 32 puts 'fast' on its channels_last paths (the rank-1 split)."""
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return convert(torch.randn(*shape, generator=gen))

    x, b = rand(1, 4, size, size), rand(4)
    rgb = rand(1, 3, size, size)
    sg2_filter = convert(setup_filter([1, 3, 3, 1]))  # 4x4, rank 1: 'fast' splits it
    taps = convert(setup_filter(torch.rand(12, generator=gen), separable=True))  # SG3-T style 1-D taps
    radial = torch.rand(6, 6, generator=gen)
    radial = convert(setup_filter(radial + radial.t()))  # a symmetric 2-D filter of full rank (SG3-R)
    weight, styles, noise = rand(4, 4, 3, 3), rand(1, 4) + 2, rand(1, 1, 2 * size, 2 * size)
    return {
        "upfirdn2d": lambda impl: upfirdn2d(x, taps, up=2, down=1, padding=(6, 5, 6, 5), impl=impl),
        "upsample2d": lambda impl: upsample2d(rgb, sg2_filter, impl=impl),
        "downsample2d": lambda impl: downsample2d(x, sg2_filter, impl=impl),
        "filter2d_radial": lambda impl: filter2d(x, radial, impl=impl),
        "bias_act": lambda impl: bias_act(x, b, act="lrelu", clamp=256, impl=impl),
        "filtered_lrelu": lambda impl: filtered_lrelu(x, taps, taps, b, up=2, down=2, padding=(11, 10, 11, 10),
                                                      gain=math.sqrt(2), slope=0.2, clamp=256, impl=impl),
        "filtered_lrelu_radial": lambda impl: filtered_lrelu(x, taps, radial, b, up=2, down=2, padding=5,
                                                             clamp=256, impl=impl),
        "filtered_lrelu_torgb": lambda impl: filtered_lrelu(x, None, None, b, gain=1, slope=1, clamp=256, impl=impl),
        "modulated_conv2d_up": lambda impl: modulated_conv2d(x, weight, styles, noise=noise, up=2, padding=1,
                                                             resample_filter=sg2_filter, flip_weight=False, impl=impl),
        "modulated_conv2d_sg3": lambda impl: modulated_conv2d_sg3(x, weight, styles, padding=2, impl=impl),
    }
