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

``impl='triton'`` (``triton_ops``) and ``impl='cuda'`` (``cuda/``) compute all four steps in one pass
per output tile: the full-rate signal never leaves the chip. In 'ref' and 'fast',
nothing is computed at full rate except the one signal the leaky ReLU needs: step 2 runs as a
transposed convolution with stride ``up`` (polyphase, no zero-stuffed tensor), separably for 1-D
filters, and step 4 as a strided convolution that computes only the kept samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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
    if impl == "triton":
        from .triton_ops import filtered_lrelu_triton

        return filtered_lrelu_triton(x, fu, fd, b, up, down, (px0, px1, py0, py1), gain, slope, clamp, flip_filter)
    if impl == "cuda":
        from .cuda import filtered_lrelu_cuda

        return filtered_lrelu_cuda(x, fu, fd, b, up, down, (px0, px1, py0, py1), gain, slope, clamp, flip_filter)
    if impl == "fast":
        return filtered_lrelu_fast(x, fu, fd, b, up, down, (px0, px1, py0, py1), gain, slope, clamp, flip_filter)
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


# ---------------------------------------------------------------------------------------------------
# impl='fast': channels_last, channel chunks, and no full-rate copies.
#
# Per axis the upsampled signal is U[n] = CT[n + s], where CT is the transposed convolution (stride up)
# of the input with the convolution kernel and s = fu_taps - 1 - pad0. The input is padded (or
# cropped where the dropped samples cannot reach the needed range) so that conv_transpose2d's own
# symmetric `padding` lands exactly on U[0]; extra samples it computes at the far end are never read
# except by surplus outputs that are sliced off the small result. Chunks of channels keep every
# full-rate intermediate small enough to be reused from the allocator instead of page-faulted anew.

_CHUNK_BYTES = 4 << 20  # full-rate bytes per channel chunk (2-8 MiB measured best: ~8 % over 16 MiB)


def _axis_plan(size: int, up: int, pad0: int, fu_taps: int, need: int) -> tuple[int, int, int]:
    """(input pad before, input pad after, conv_transpose crop) for one axis; negative pads crop."""
    s = fu_taps - 1 - pad0
    if s < 0:
        lo = -(s // up)  # ceil(-s / up) zeros in front
    else:
        lo = -min((s - fu_taps) // up + 1, s // up) if s >= fu_taps else 0  # drop inputs wholly before U[0]
    crop = s + lo * up
    needed_inputs = (crop + need - 1) // up + 1  # inputs reaching U[need - 1]
    inputs = max(needed_inputs, -(-(2 * crop + need - fu_taps) // up) + 1)  # room for the symmetric crop
    return lo, inputs - (size + lo), crop


def _fast_filters(f: torch.Tensor | None, gain: float, flip_filter: bool, dtype: torch.dtype,
                  device: torch.device) -> torch.Tensor:
    """The convolution kernel (flipped once for flip_filter), gain folded in; None -> one tap."""
    if f is None:
        f = torch.ones(1, dtype=dtype, device=device)
    f = f.to(device=device, dtype=dtype) * (gain ** (f.ndim / 2))
    return f.flip(list(range(f.ndim))) if flip_filter else f


def _depthwise(k: torch.Tensor, channels: int, axis: str) -> torch.Tensor:
    """[C, 1, kh, kw] weight from a 1-D kernel along 'x' or 'y', or a 2-D kernel ('xy')."""
    shape = {"x": (1, 1, 1, -1), "y": (1, 1, -1, 1), "xy": (1, 1, *k.shape)}[axis]
    return k.reshape(shape).expand(channels, -1, -1, -1)


def _padded_channels_last(x: torch.Tensor, b: torch.Tensor | None, lo_x: int, hi_x: int, lo_y: int,
                          hi_y: int) -> torch.Tensor:
    """``F.pad(x + b, [lo_x, hi_x, lo_y, hi_y])`` in channels_last, written once (negative pads crop)."""
    n, c, h, w = x.shape
    out = torch.empty([n, c, h + lo_y + hi_y, w + lo_x + hi_x], dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last).zero_()
    src = x[:, :, max(-lo_y, 0):h - max(-hi_y, 0), max(-lo_x, 0):w - max(-hi_x, 0)]
    dst = out[:, :, max(lo_y, 0):max(lo_y, 0) + src.shape[2], max(lo_x, 0):max(lo_x, 0) + src.shape[3]]
    dst.copy_(src)
    if b is not None:
        dst.add_(b.to(x.dtype).reshape(1, -1, 1, 1))
    return out


def filtered_lrelu_fast(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None,
                        b: torch.Tensor | None, up: int, down: int, pad: tuple[int, int, int, int],
                        gain: float, slope: float, clamp: float | None, flip_filter: bool) -> torch.Tensor:
    """filtered_lrelu (same arguments, padding parsed) computed chunk by chunk in channels_last."""
    n, c, h, w = x.shape
    out_shape = output_shape(tuple(x.shape), fu, fd, up, down, pad)
    if fu is None and fd is None and up == 1 and down == 1:  # ToRGB-style: bias, pad, activation
        x = F.pad(bias_act(x, b, impl="fast"), list(pad))
        return bias_act(x, act="lrelu", alpha=slope, gain=gain, clamp=clamp, impl="fast")
    ku = _fast_filters(fu, up**2, flip_filter, x.dtype, x.device)
    kd = _fast_filters(fd, 1, flip_filter, x.dtype, x.device).flip(list(range(1 if fd is None else fd.ndim)))
    (fuw, fuh), (fdw, fdh) = filter_size(fu), filter_size(fd)
    out_h, out_w = out_shape[2], out_shape[3]
    lo_x, hi_x, crop_x = _axis_plan(w, up, pad[0], fuw, (out_w - 1) * down + fdw)
    lo_y, hi_y, crop_y = _axis_plan(h, up, pad[2], fuh, (out_h - 1) * down + fdh)
    full_rate = n * (h + lo_y + hi_y) * up * (w + lo_x + hi_x) * up * x.element_size()
    group = max(16, _CHUNK_BYTES // max(full_rate, 1) // 16 * 16)
    # The result keeps the input's layout, so a caller alternating with NCHW (Winograd) convolutions
    # never pays a full-tensor layout copy; only the channel chunks below are channels_last.
    layout = torch.contiguous_format if x.is_contiguous() else torch.channels_last
    out = torch.empty(out_shape, dtype=x.dtype, device=x.device, memory_format=layout)
    for c0 in range(0, c, group):
        bc = None if b is None else b[c0:c0 + group]
        xc = _padded_channels_last(x[:, c0:c0 + group], bc, lo_x, hi_x, lo_y, hi_y)  # [N, G, H', W']
        g = xc.shape[1]
        if ku.ndim == 1:
            xc = F.conv_transpose2d(xc, _depthwise(ku, g, "x"), stride=(1, up), padding=(0, crop_x), groups=g)
            xc = F.conv_transpose2d(xc, _depthwise(ku, g, "y"), stride=(up, 1), padding=(crop_y, 0), groups=g)
        else:
            xc = F.conv_transpose2d(xc, _depthwise(ku, g, "xy"), stride=up, padding=(crop_y, crop_x), groups=g)
        xc = F.leaky_relu_(xc, slope)  # [N, G, H*up.., W*up..], the only full-rate tensor
        if gain != 1:
            xc.mul_(gain)
        if clamp is not None:
            xc.clamp_(-clamp, clamp)
        if kd.ndim == 1 and kd.shape[0] > 1:
            xc = F.conv2d(xc, _depthwise(kd, g, "x"), stride=(1, down), groups=g)
            xc = F.conv2d(xc, _depthwise(kd, g, "y"), stride=(down, 1), groups=g)
        elif kd.ndim == 2 or down > 1:
            k2 = kd if kd.ndim == 2 else kd.reshape(1, 1)
            xc = F.conv2d(xc, _depthwise(k2, g, "xy"), stride=down, groups=g)
        out[:, c0:c0 + g] = xc[:, :, :out_h, :out_w]
    return out
