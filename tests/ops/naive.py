"""The specification of the ops, written the slow obvious way (zero stuffing, full-rate 2-D FIR) in
float64. The ops under test must match these."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def naive_upfirdn2d(x, f, up=(1, 1), down=(1, 1), pad=(0, 0, 0, 0), flip_filter=False, gain=1.0):
    """Zero-stuff, pad, 2-D FIR (true convolution unless flip_filter), decimate."""
    x = x.double()
    n, c, h, w = x.shape
    upx, upy = up
    z = torch.zeros(n, c, h, upy, w, upx, dtype=x.dtype)
    z[:, :, :, 0, :, 0] = x
    z = z.reshape(n, c, h * upy, w * upx)
    px0, px1, py0, py1 = pad
    z = F.pad(z, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    z = z[:, :, max(-py0, 0): z.shape[2] - max(-py1, 0), max(-px0, 0): z.shape[3] - max(-px1, 0)]
    if f is None:
        f = torch.ones(1, 1)
    f = f.double()
    f2 = torch.outer(f, f) if f.ndim == 1 else f
    f2 = f2 * gain
    if not flip_filter:
        f2 = f2.flip([0, 1])
    y = F.conv2d(z.reshape(n * c, 1, *z.shape[2:]), f2[None, None])  # [N*C, 1, H', W']
    y = y.reshape(n, c, *y.shape[2:])
    return y[:, :, :: down[1], :: down[0]]


def naive_filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp, flip_filter):
    """Bias, zero-stuff, pad, FIR(fu) with gain up**2, leaky ReLU, gain, clamp, FIR(fd), decimate."""
    x = x.double()
    if b is not None:
        x = x + b.double().reshape(1, -1, 1, 1)
    x = naive_upfirdn2d(x, fu, up=(up, up), pad=pad, flip_filter=flip_filter, gain=up * up)
    x = F.leaky_relu(x, slope) * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return naive_upfirdn2d(x, fd, down=(down, down), flip_filter=flip_filter)


def assert_close(out, ref, rtol=1e-5):
    """max|out - ref| <= rtol * max(1, max|ref|), with matching shapes."""
    assert tuple(out.shape) == tuple(ref.shape), f"shape {tuple(out.shape)} != {tuple(ref.shape)}"
    err = (out.double() - ref.double()).abs().max().item()
    scale = max(1.0, ref.double().abs().max().item())
    assert err <= rtol * scale, f"max abs error {err:.3g} > {rtol:g} * {scale:.3g}"
