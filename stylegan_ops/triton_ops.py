"""``impl='triton'``: the Triton kernels registered as PyTorch custom ops.

As custom ops (``torch.library.custom_op``) they are single nodes to ``torch.compile`` (no graph break,
no tracing into the launch), run under FakeTensorMode through their shape functions, and can be
captured in a CUDA graph. Everything that reads a value (filter facts, device checks) happens inside
the real implementations, which run eagerly. ``triton`` itself is imported only when a kernel first
runs (``triton_kernels``); importing this module does not import it.

They run on CUDA tensors, or on CPU tensors through Triton's interpreter when ``TRITON_INTERPRET=1``
(how CI tests them without a GPU).
"""

from __future__ import annotations

import torch

from .backends import require_triton
from .filters import filter_factors, remember_filter


def _bias_act_is_channels_last(x: torch.Tensor, dim: int) -> bool:
    return (x.ndim == 4 and dim % 4 == 1 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


@torch.library.custom_op("stylegan_ops::bias_act_triton", mutates_args=())
def _bias_act_op(x: torch.Tensor, b: torch.Tensor | None, dim: int, act: str, alpha: float, gain: float,
                 clamp: float | None) -> torch.Tensor:
    require_triton(x.device)
    from .triton_kernels import launch_bias_act

    return launch_bias_act(x, b, dim, act, alpha, gain, clamp)


@_bias_act_op.register_fake
def _(x, b, dim, act, alpha, gain, clamp):
    return torch.empty_like(x) if _bias_act_is_channels_last(x, dim) else x.new_empty(x.shape)


@torch.library.custom_op("stylegan_ops::upfirdn2d_triton", mutates_args=())
def _upfirdn2d_op(x: torch.Tensor, f: torch.Tensor | None, up: list[int], down: list[int], pad: list[int],
                  flip_filter: bool, gain: float) -> torch.Tensor:
    require_triton(x.device)
    from .triton_kernels import launch_upfirdn2d

    factors = None
    if f is not None and (f.ndim == 1 or remember_filter(f).rank1):
        cols, rows = filter_factors(f, x.device)
        factors = (cols[0], rows[0])
    return launch_upfirdn2d(x, f, (up[0], up[1]), (down[0], down[1]), (pad[0], pad[1], pad[2], pad[3]), flip_filter,
                            gain, factors)


@_upfirdn2d_op.register_fake
def _(x, f, up, down, pad, flip_filter, gain):
    fw, fh = (1, 1) if f is None else (f.shape[-1], f.shape[0])
    out_h = (x.shape[2] * up[1] + pad[2] + pad[3] - fh) // down[1] + 1
    out_w = (x.shape[3] * up[0] + pad[0] + pad[1] - fw) // down[0] + 1
    return x.new_empty((x.shape[0], x.shape[1], out_h, out_w))


@torch.library.custom_op("stylegan_ops::filtered_lrelu_triton", mutates_args=())
def _filtered_lrelu_op(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None,
                       up: int, down: int, pad: list[int], gain: float, slope: float, clamp: float | None,
                       flip_filter: bool, out_h: int, out_w: int) -> torch.Tensor:
    require_triton(x.device)
    from .triton_kernels import launch_filtered_lrelu

    return launch_filtered_lrelu(x, b, filter_factors(fu, x.device), filter_factors(fd, x.device), up, down,
                                 (pad[0], pad[1], pad[2], pad[3]), gain, slope, clamp, flip_filter, out_h, out_w)


@_filtered_lrelu_op.register_fake
def _(x, fu, fd, b, up, down, pad, gain, slope, clamp, flip_filter, out_h, out_w):
    return x.new_empty((x.shape[0], x.shape[1], out_h, out_w))


def bias_act_triton(x: torch.Tensor, b: torch.Tensor | None, dim: int, act: str, alpha: float, gain: float,
                    clamp: float | None) -> torch.Tensor:
    """``bias_act`` (arguments resolved by the entry point) as one Triton kernel."""
    if b is not None and (b.ndim != 1 or b.shape[0] != x.shape[dim]):
        raise ValueError(f"bias of shape {tuple(b.shape)} does not match dim {dim} of x {tuple(x.shape)}")
    return _bias_act_op(x, b, dim % x.ndim, act, alpha, gain, clamp)


def upfirdn2d_triton(x: torch.Tensor, f: torch.Tensor | None, up: tuple[int, int], down: tuple[int, int],
                     pad: tuple[int, int, int, int], flip_filter: bool, gain: float) -> torch.Tensor:
    """``upfirdn2d`` (arguments parsed by the entry point): one Triton pass per axis for separable
    filters (1-D taps or a rank-1 2-D filter), one 2-D pass otherwise."""
    return _upfirdn2d_op(x, f, list(up), list(down), list(pad), flip_filter, float(gain))


def filtered_lrelu_triton(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor | None,
                          up: int, down: int, pad: tuple[int, int, int, int], gain: float, slope: float,
                          clamp: float | None, flip_filter: bool) -> torch.Tensor:
    """``filtered_lrelu`` (arguments checked by the entry point) as one fused Triton kernel."""
    from .filtered_lrelu import output_shape

    _, _, out_h, out_w = output_shape(tuple(x.shape), fu, fd, up, down, pad)
    if b is not None and (b.ndim != 1 or b.shape[0] != x.shape[1]):
        raise ValueError(f"bias of shape {tuple(b.shape)} does not match the {x.shape[1]} channels of x")
    return _filtered_lrelu_op(x, fu, fd, b, up, down, list(pad), float(gain), float(slope),
                              None if clamp is None else float(clamp), flip_filter, out_h, out_w)
