"""Fused bias + activation + gain + clamp, as StyleGAN2/3 use after every convolution.

    y = clamp(act(x + b, alpha) * gain, -clamp, clamp)

The clamp comes after the gain. ``impl='ref'`` is plain PyTorch; ``impl='fast'`` does the same
arithmetic in place on one fresh buffer (one allocation instead of four) when no gradient is needed;
``impl='triton'`` is one Triton kernel (``triton_ops``); ``impl='cuda'`` has no own kernel here and
runs the 'fast' formulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

IMPLS = ("ref", "fast", "triton", "cuda")

ActivationFn = Callable[[torch.Tensor, float], torch.Tensor]


def _swish(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.sigmoid(x) * x


# name -> (func(x, alpha), default alpha, default gain)
ACTIVATIONS: dict[str, tuple[ActivationFn, float, float]] = {
    "linear": (lambda x, alpha: x, 0.0, 1.0),
    "relu": (lambda x, alpha: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": (lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2)),
    "tanh": (lambda x, alpha: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, alpha: torch.sigmoid(x), 0.0, 1.0),
    "elu": (lambda x, alpha: F.elu(x), 0.0, 1.0),
    "selu": (lambda x, alpha: F.selu(x), 0.0, 1.0),
    "softplus": (lambda x, alpha: F.softplus(x), 0.0, 1.0),
    "swish": (_swish, 0.0, math.sqrt(2)),
}

# In-place versions used by impl='fast' (activations without one fall back to the functional form).
_INPLACE: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "linear": lambda x, alpha: x,
    "relu": lambda x, alpha: x.relu_(),
    "lrelu": lambda x, alpha: F.leaky_relu_(x, alpha),
    "tanh": lambda x, alpha: x.tanh_(),
    "sigmoid": lambda x, alpha: x.sigmoid_(),
    "elu": lambda x, alpha: F.elu_(x),
    "selu": lambda x, alpha: F.selu(x, inplace=True),
}


def check_impl(impl: str, allowed: tuple[str, ...] = IMPLS) -> None:
    """Raise ValueError for an implementation name this op does not have."""
    if impl not in allowed:
        raise ValueError(f"impl={impl!r} is not available; choose one of {', '.join(map(repr, allowed))}")


def resolve_act(act: str, alpha: float | None, gain: float | None) -> tuple[float, float]:
    """Return (alpha, gain) with the activation's defaults filled in; ValueError for an unknown act."""
    if act not in ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {', '.join(ACTIVATIONS)}")
    _, def_alpha, def_gain = ACTIVATIONS[act]
    return float(def_alpha if alpha is None else alpha), float(def_gain if gain is None else gain)


def _bias_shape(x: torch.Tensor, b: torch.Tensor, dim: int) -> list[int]:
    if b.ndim != 1 or b.shape[0] != x.shape[dim]:
        raise ValueError(f"bias of shape {tuple(b.shape)} does not match dim {dim} of x {tuple(x.shape)}")
    return [-1 if i == dim % x.ndim else 1 for i in range(x.ndim)]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
    impl: str = "ref",
) -> torch.Tensor:
    """Add bias ``b`` along ``dim``, apply ``act``, multiply by ``gain``, clamp to [-clamp, clamp].

    ``alpha`` and ``gain`` default to the activation's own (lrelu: 0.2 and sqrt(2)); ``clamp=None``
    means no clamping. Returns a new tensor of x's shape and dtype; the input is never modified.
    """
    check_impl(impl)
    alpha, gain = resolve_act(act, alpha, gain)
    if clamp is not None and clamp < 0:
        raise ValueError(f"clamp must be >= 0 or None, got {clamp}")
    if impl == "triton":
        from .triton_ops import bias_act_triton

        return bias_act_triton(x, b, dim, act, alpha, gain, clamp)
    if impl in ("fast", "cuda") and not (torch.is_grad_enabled() and x.requires_grad):
        return _bias_act_inplace(x, b, dim, act, alpha, gain, clamp)
    if b is not None:
        x = x + b.to(x.dtype).reshape(_bias_shape(x, b, dim))
    x = ACTIVATIONS[act][0](x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def _bias_act_inplace(x: torch.Tensor, b: torch.Tensor | None, dim: int, act: str, alpha: float,
                      gain: float, clamp: float | None) -> torch.Tensor:
    """bias_act on one fresh buffer: the first op copies, the rest run in place."""
    if b is not None:
        y = x + b.to(x.dtype).reshape(_bias_shape(x, b, dim))
    else:
        y = x.clone()
    inplace = _INPLACE.get(act)
    y = inplace(y, alpha) if inplace is not None else ACTIVATIONS[act][0](y, alpha)
    if gain != 1:
        y.mul_(gain)
    if clamp is not None:
        y.clamp_(-clamp, clamp)
    return y
