"""upfirdn2d: upsample (zero insertion), pad, FIR filter, downsample, as StyleGAN2/3 define it.

Definition, per axis (x = width, then y = height):

1. upsample: insert ``up - 1`` zeros after every input sample (length ``in * up``);
2. pad: add ``p0`` zeros before and ``p1`` after (negative values crop);
3. filter: true convolution with ``f`` (``flip_filter=True``: correlation), keeping only the
   fully overlapping outputs, so length ``in * up + p0 + p1 - taps + 1``;
4. downsample: keep every ``down``-th sample starting at the first.

Output size: ``(in * up + p0 + p1 - taps) // down + 1``. The filter is scaled by
``gain ** (f.ndim / 2)``: a 1-D (separable) filter is applied once per axis, so the total gain is
``gain`` either way. ``padding`` is ``int`` (all sides), ``(px, py)`` or ``(px0, px1, py0, py1)``;
``up``/``down`` are ``int`` or ``(x, y)``.

No zero-stuffed tensor is ever built: upsampling is a transposed convolution with stride ``up``
(which is polyphase filtering), downsampling a strided convolution that computes only the kept
samples. ``impl='fast'`` runs the same stages (from 32x32 pixels up) in channels_last (oneDNN's fast
depthwise layout: 4-60x faster than NCHW for these filters), applies a rank-1 2-D filter (such as
StyleGAN2's 4x4 ``resample_filter``; decided once per filter, see ``filters``) as two 1-D passes, and
leaves symmetric padding to the convolution (no padded copy). ``impl='cuda'`` (no own kernel for this
op) runs the 'fast' formulation; ``impl='triton'`` one Triton kernel per pass (``triton_ops``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .bias_act import check_impl
from .filters import is_rank1

IntPair = int | Sequence[int]


def parse_scaling(scaling: IntPair) -> tuple[int, int]:
    """``up``/``down`` as (x, y) integers >= 1."""
    sx, sy = (scaling, scaling) if isinstance(scaling, int) else tuple(scaling)
    if int(sx) != sx or int(sy) != sy or sx < 1 or sy < 1:
        raise ValueError(f"scaling factors must be integers >= 1, got {scaling!r}")
    return int(sx), int(sy)


def parse_padding(padding: IntPair) -> tuple[int, int, int, int]:
    """``padding`` as (px0, px1, py0, py1)."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    pad = [int(p) for p in padding]
    if len(pad) == 2:
        return pad[0], pad[0], pad[1], pad[1]
    if len(pad) == 4:
        return pad[0], pad[1], pad[2], pad[3]
    raise ValueError(f"padding must be an int, (px, py) or (px0, px1, py0, py1), got {padding!r}")


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) in taps of a 1-D (separable), 2-D or missing (identity) filter."""
    if f is None:
        return 1, 1
    if f.ndim not in (1, 2):
        raise ValueError(f"filter must be 1-D (separable) or 2-D, got shape {tuple(f.shape)}")
    return f.shape[-1], f.shape[0]


def setup_filter(
    f,
    device: torch.device | str = torch.device("cpu"),
    normalize: bool = True,
    flip_filter: bool = False,
    gain: float = 1,
    separable: bool | None = None,
) -> torch.Tensor:
    """Turn filter taps into the float32 tensor the ops take.

    ``f``: None (identity), a scalar, 1-D taps or a 2-D kernel. ``separable=None`` keeps 1-D taps
    separable only when there are at least 8 of them; shorter ones become the 2-D outer product
    (so ``setup_filter([1, 3, 3, 1])`` is the 4x4 kernel StyleGAN2 stores as ``resample_filter``).
    ``normalize`` divides by the sum, ``flip_filter`` flips, and the result is scaled by
    ``gain ** (ndim / 2)``.
    """
    f = torch.as_tensor(1.0 if f is None else f, dtype=torch.float32)
    if f.ndim == 0:
        f = f.reshape(1)
    if f.ndim not in (1, 2) or f.numel() == 0:
        raise ValueError(f"filter must be a scalar, 1-D taps or a 2-D kernel, got shape {tuple(f.shape)}")
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise ValueError("a 2-D filter cannot be made separable; pass 1-D taps")
    if normalize:
        f = f / f.sum()
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def fast_layout(x: torch.Tensor) -> torch.memory_format:
    """oneDNN's faster layout for convolving ``x`` [N, C, H, W] on this CPU: channels_last from 32x32
    pixels up (dense 3x3: 1.4-3x, depthwise: 4-60x faster than NCHW there), NCHW below (up to 2x
    faster at 4x4 and 8x8, where channels_last's reorders cost more than the arithmetic)."""
    return torch.channels_last if x.shape[2] * x.shape[3] >= 1024 else torch.contiguous_format


def _fir_stage(x: torch.Tensor, k: torch.Tensor, up: tuple[int, int], down: tuple[int, int],
               pad: tuple[int, int, int, int]) -> torch.Tensor:
    """One upfirdn pass with a 2-D kernel ``k`` [kh, kw] already flipped for correlation.

    ``up``/``down`` are (x, y); ``pad`` is (px0, px1, py0, py1) in the upsampled domain.
    """
    n, c, h, w = x.shape
    kh, kw = k.shape
    weight = k[None, None].expand(c, 1, kh, kw)  # [C, 1, kh, kw], depthwise
    upx, upy = up
    px0, px1, py0, py1 = pad
    if upx > 1 or upy > 1:
        # conv_transpose2d with stride `up` is the full convolution of the zero-stuffed signal with its
        # (unflipped) kernel; output j of upfirdn is sample j + taps - 1 - p0 of that.
        y = F.conv_transpose2d(x, weight.flip([2, 3]), stride=(upy, upx), groups=c)  # [N, C, H*upy+.., ..]
        y = F.pad(y, [px0 - kw + 1, px1 - kw + upx, py0 - kh + 1, py1 - kh + upy])
        return y[:, :, :: down[1], :: down[0]]
    x = F.pad(x, [px0, px1, py0, py1])  # [N, C, H+py0+py1, W+px0+px1]
    return F.conv2d(x, weight, stride=(down[1], down[0]), groups=c)


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: IntPair = 1,
    down: IntPair = 1,
    padding: IntPair = 0,
    flip_filter: bool = False,
    gain: float = 1,
    impl: str = "ref",
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of images ``x`` [N, C, H, W].

    See the module docstring for the exact definition. ``f``: 1-D (separable, applied along x then
    y), 2-D [fh, fw], or None (identity).
    """
    check_impl(impl)
    if x.ndim != 4:
        raise ValueError(f"x must be [N, C, H, W], got shape {tuple(x.shape)}")
    upx, upy = parse_scaling(up)
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    out_w = (x.shape[3] * upx + px0 + px1 - fw) // downx + 1
    out_h = (x.shape[2] * upy + py0 + py1 - fh) // downy + 1
    if out_w < 1 or out_h < 1:
        raise ValueError(f"upfirdn2d of {tuple(x.shape)} with this padding/filter leaves no output pixels")
    if impl == "triton":
        from .triton_ops import upfirdn2d_triton

        return upfirdn2d_triton(x, f, (upx, upy), (downx, downy), (px0, px1, py0, py1), flip_filter, gain)
    # Whether a 2-D filter splits into two 1-D passes is read from the filter the caller holds (decided
    # once per filter tensor), never from the per-call copy below.
    split = impl in ("fast", "cuda") and f is not None and f.ndim == 2 and f.numel() > 1 and is_rank1(f)
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    f = f.to(device=x.device, dtype=x.dtype) * (gain ** (f.ndim / 2))
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))  # conv2d correlates; flipping makes it a true convolution
    fy, fx = (f, f) if f.ndim == 1 else (None, None)
    stage = _fir_stage
    if impl in ("fast", "cuda") and fast_layout(x) == torch.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)  # oneDNN's fast depthwise layout
        stage = _fir_stage_fast
        if split:
            fy, fx = f.sum(1), f.sum(0) / f.sum()  # [fh], [fw]: outer(fy, fx) == f
    if fy is None or fx is None:
        return stage(x, f, (upx, upy), (downx, downy), (px0, px1, py0, py1))
    x = stage(x, fx[None, :], (upx, 1), (downx, 1), (px0, px1, 0, 0))  # along x
    return stage(x, fy[:, None], (1, upy), (1, downy), (0, 0, py0, py1))  # along y


def _fir_stage_fast(x: torch.Tensor, k: torch.Tensor, up: tuple[int, int], down: tuple[int, int],
                    pad: tuple[int, int, int, int]) -> torch.Tensor:
    """``_fir_stage`` for channels_last input: symmetric padding is left to the convolution (no padded
    copy). Upsampling stays a strided transposed depthwise convolution, which oneDNN runs polyphase in
    channels_last: 2-10x faster here than an explicit per-phase convolution plus interleaving."""
    (upx, upy), (downx, downy) = up, down
    px0, px1, py0, py1 = pad
    if upx > 1 or upy > 1 or px0 != px1 or py0 != py1 or px0 < 0 or py0 < 0:
        return _fir_stage(x, k, up, down, pad)
    c = x.shape[1]
    weight = k[None, None].expand(c, 1, *k.shape)  # [C, 1, kh, kw], depthwise
    return F.conv2d(x, weight, stride=(downy, downx), padding=(py0, px0), groups=c)


def filter2d(x: torch.Tensor, f: torch.Tensor | None, padding: IntPair = 0, flip_filter: bool = False,
             gain: float = 1, impl: str = "ref") -> torch.Tensor:
    """Filter ``x`` with ``f`` keeping its size (plus ``padding``); the filter is centred."""
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)


def upsample2d(x: torch.Tensor, f: torch.Tensor | None, up: IntPair = 2, padding: IntPair = 0,
               flip_filter: bool = False, gain: float = 1, impl: str = "ref") -> torch.Tensor:
    """Upsample ``x`` by ``up`` with filter ``f`` (size ``in * up`` plus ``padding``); DC gain kept."""
    upx, upy = parse_scaling(up)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2,
           py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=(upx, upy), padding=pad, flip_filter=flip_filter, gain=gain * upx * upy,
                     impl=impl)


def downsample2d(x: torch.Tensor, f: torch.Tensor | None, down: IntPair = 2, padding: IntPair = 0,
                 flip_filter: bool = False, gain: float = 1, impl: str = "ref") -> torch.Tensor:
    """Low-pass ``x`` with ``f`` and keep every ``down``-th pixel (size ``in // down`` plus ``padding``)."""
    downx, downy = parse_scaling(down)
    px0, px1, py0, py1 = parse_padding(padding)
    fw, fh = filter_size(f)
    pad = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2,
           py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=(downx, downy), padding=pad, flip_filter=flip_filter, gain=gain, impl=impl)
