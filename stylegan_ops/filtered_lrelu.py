"""StyleGAN3's filtered leaky ReLU: bias, upsample, leaky ReLU, clamp, downsample, in one op.

Definition (identical to the official reference composition, so model code can pass the official
numbers unchanged):

1. ``x = x + b`` (bias along channels, added at the *input* rate, before upsampling);
2. ``x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2, flip_filter=flip_filter)``:
   zero-insertion by ``up``, then ``padding`` = ``int``, ``(px, py)`` or ``(px0, px1, py0, py1)``
   zeros added **on the upsampled grid** (negative crops), then the FIR ``fu``;
3. ``x = clamp(leaky_relu(x, slope) * gain, -clamp, clamp)`` (clamp after gain; None = no clamp);
4. ``x = upfirdn2d(x, fd, down=down, flip_filter=flip_filter)``: the FIR ``fd`` without padding,
   then every ``down``-th sample.

Output size per axis: ``(in * up + p0 + p1 - (fu_taps - 1) - (fd_taps - 1) + down - 1) // down``.
StyleGAN3's synthesis layers pass ``padding = [pad_lo_x, pad_hi_x, pad_lo_y, pad_hi_y]`` with
``pad_total = (out_size - 1) * down + 1 - (in_size + conv_kernel - 1) * up + up_taps + down_taps - 2``,
``pad_lo = (pad_total + up) // 2``, ``pad_hi = pad_total - pad_lo``, where ``in_size`` is the size
before the ``conv_kernel - 1`` padded modulated convolution, so ``x`` here has ``in_size + conv_kernel - 1``
pixels. ``fu``/``fd``: 1-D taps (separable), a 2-D kernel (e.g. StyleGAN3-R's radial filter) or
None (identity, 1 tap). ToRGB uses ``fu = fd = None``, ``gain=1``, ``slope=1``.

Nothing is computed at full rate except the one signal the leaky ReLU needs: step 2 runs as a
transposed convolution with stride ``up`` (polyphase, no zero-stuffed tensor), separably for 1-D
filters, and step 4 as a strided convolution that computes only the kept samples.
"""

from __future__ import annotations

import math

import torch

from .bias_act import bias_act, check_impl
from .upfirdn2d import IntPair, filter_size, parse_padding, upfirdn2d


def filtered_lrelu_output_size(in_size: int, up: int, down: int, pad0: int, pad1: int, fu_taps: int,
                               fd_taps: int) -> int:
    """Output length along one axis (see the module docstring)."""
    return (in_size * up + pad0 + pad1 - (fu_taps - 1) - (fd_taps - 1) + down - 1) // down


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None = None,
    fd: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: IntPair = 0,
    gain: float = math.sqrt(2),
    slope: float = 0.2,
    clamp: float | None = None,
    flip_filter: bool = False,
    impl: str = "ref",
) -> torch.Tensor:
    """Bias, upsample by ``up`` with ``fu``, leaky ReLU (``slope``) times ``gain``, clamp, downsample
    by ``down`` with ``fd``; ``x`` [N, C, H, W] -> [N, C, H', W'] (sizes in the module docstring)."""
    check_impl(impl)
    if not (isinstance(up, int) and isinstance(down, int) and up >= 1 and down >= 1):
        raise ValueError(f"up and down must be integers >= 1, got {up!r}, {down!r}")
    if gain <= 0 or slope < 0 or (clamp is not None and clamp < 0):
        raise ValueError(f"need gain > 0, slope >= 0, clamp >= 0 or None; got {gain}, {slope}, {clamp}")
    if x.ndim != 4:
        raise ValueError(f"x must be [N, C, H, W], got shape {tuple(x.shape)}")
    px0, px1, py0, py1 = parse_padding(padding)
    x = bias_act(x, b)  # [N, C, H, W]
    x = upfirdn2d(x, fu, up=up, padding=(px0, px1, py0, py1), gain=up**2, flip_filter=flip_filter)  # full rate
    x = bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down, flip_filter=flip_filter)  # [N, C, H', W']


def output_shape(x_shape: tuple[int, ...], fu: torch.Tensor | None, fd: torch.Tensor | None, up: int, down: int,
                 padding: IntPair) -> tuple[int, int, int, int]:
    """Shape of ``filtered_lrelu``'s result for an input of ``x_shape``."""
    px0, px1, py0, py1 = parse_padding(padding)
    (fuw, fuh), (fdw, fdh) = filter_size(fu), filter_size(fd)
    n, c, h, w = x_shape
    return (n, c, filtered_lrelu_output_size(h, up, down, py0, py1, fuh, fdh),
            filtered_lrelu_output_size(w, up, down, px0, px1, fuw, fdw))
