"""The mapping network z (+ label c) -> W, shared by StyleGAN2(-ADA) and StyleGAN3.

State-dict keys match the official ones: ``fc{i}.weight`` / ``fc{i}.bias`` for the layers,
``embed.weight`` / ``embed.bias`` for the label embedding of conditional models and the ``w_avg``
buffer (the truncation centre). Weights are stored unscaled; the equalised-learning-rate gains
(``lr_multiplier / sqrt(fan_in)`` for weights, ``lr_multiplier`` for biases) are applied in forward.

StyleGAN2-ADA builds it with ``num_layers=8, w_avg_beta=0.995``, StyleGAN3 with ``num_layers=2,
w_avg_beta=0.998``; the beta only matters during training and is kept for the constructor kwargs.
Forward never updates ``w_avg``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from stylegan_ops import bias_act

from .generator import GeneratorInputError, as_float32, op_impl


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale ``x`` to unit mean square along ``dim``."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


class FullyConnectedLayer(nn.Module):
    """Dense layer with equalised learning rate: ``act(x @ (W * gain).T + b * lr_multiplier)``."""

    def __init__(self,
                 in_features: int,                      # input features
                 out_features: int,                     # output features
                 bias: bool = True,                     # learn an additive bias
                 activation: str = "linear",            # any stylegan_ops activation ("lrelu", ...)
                 lr_multiplier: float = 1.0,            # learning-rate multiplier (scales both gains)
                 bias_init: float | Sequence[float] = 0.0,  # initial bias (scalar or per feature)
                 weight_init: float = 1.0,              # initial weight std (StyleGAN3 input affine: 0)
                 ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.activation = activation
        self.impl = "ref"
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) * (weight_init / lr_multiplier))
        if bias:
            init = np.broadcast_to(np.asarray(bias_init, dtype=np.float32), [out_features])
            self.bias = nn.Parameter(torch.from_numpy(init.copy()))
        else:
            self.register_parameter("bias", None)
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(x.dtype) * self.weight_gain  # [out, in]
        bias: torch.Tensor | None = self.bias
        if bias is not None:
            bias = bias.to(x.dtype)
            if self.bias_gain != 1:
                bias = bias * self.bias_gain  # [out]
        if self.activation == "linear" and bias is not None:
            return torch.addmm(bias.unsqueeze(0), x, weight.t())  # [N, out]
        x = x.matmul(weight.t())  # [N, out]
        return bias_act(x, bias, act=self.activation, impl=op_impl(self.impl, "bias_act"))

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, activation={self.activation}"


class MappingNetwork(nn.Module):
    """z [N, z_dim] (+ c [N, c_dim]) -> ws [N, num_ws, w_dim], with optional truncation."""

    w_avg: torch.Tensor

    def __init__(self,
                 z_dim: int,                        # input latent size, 0 = none
                 c_dim: int,                        # label size, 0 = unconditional
                 w_dim: int,                        # W size
                 num_ws: int,                       # rows of the broadcast output
                 num_layers: int = 8,               # fc layers (StyleGAN2: 8, StyleGAN3: 2)
                 embed_features: int | None = None,  # label embedding size, None = w_dim
                 layer_features: int | None = None,  # hidden width, None = w_dim
                 activation: str = "lrelu",         # hidden activation
                 lr_multiplier: float = 0.01,       # learning-rate multiplier of every fc layer
                 w_avg_beta: float | None = 0.995,  # training-time w_avg decay (unused at inference)
                 ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.num_ws = num_ws
        self.num_layers = num_layers
        self.w_avg_beta = w_avg_beta
        embed_features = w_dim if embed_features is None else embed_features
        if c_dim == 0:
            embed_features = 0
        layer_features = w_dim if layer_features is None else layer_features
        features = [z_dim + embed_features] + [layer_features] * (num_layers - 1) + [w_dim]
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], activation=activation,
                                        lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def _inputs(self, z, c) -> torch.Tensor:
        device = self.w_avg.device
        z = as_float32(z, device, "z")
        if z.ndim == 1:
            z = z.unsqueeze(0)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise GeneratorInputError(f"z has shape {tuple(z.shape)} but this model takes [N, {self.z_dim}]; "
                                f"make z with engine.seed_to_z(seed, G.z_dim)")
        if c is None:
            if self.c_dim > 0:
                raise GeneratorInputError(f"this model is conditional (c_dim={self.c_dim}): pass a class label "
                                    f"c of shape [N, {self.c_dim}] (e.g. a one-hot row)")
            c = torch.zeros([z.shape[0], 0], device=device)
        c = as_float32(c, device, "c")
        if c.ndim == 1:
            c = c.unsqueeze(0)
        if c.ndim != 2 or c.shape[1] != self.c_dim or (self.c_dim > 0 and c.shape[0] not in (1, z.shape[0])):
            raise GeneratorInputError(f"c has shape {tuple(c.shape)} but this model takes [N, {self.c_dim}] "
                                f"with N = {z.shape[0]} like z")
        x = normalize_2nd_moment(z) if self.z_dim > 0 else None  # [N, z_dim]
        if self.c_dim > 0:
            y = normalize_2nd_moment(self.embed(c.expand(z.shape[0], -1)))  # [N, embed_features]
            x = torch.cat([x, y], dim=1) if x is not None else y  # [N, z_dim + embed_features]
        if x is None:
            raise GeneratorInputError("this model has z_dim = 0 and c_dim = 0: it has no input to map")
        return x

    def forward(self, z, c=None, truncation_psi: float | torch.Tensor = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """Map z (numpy float64 is cast to float32) and label c to ws [N, num_ws, w_dim].

        ``c=None`` means "no label" and is only valid for unconditional models. Truncation pulls the
        first ``truncation_cutoff`` rows (all rows when None) towards ``w_avg``: ``lerp(w_avg, w, psi)``.
        """
        x = self._inputs(z, c)  # [N, in_features]
        for idx in range(self.num_layers):
            layer: FullyConnectedLayer = getattr(self, f"fc{idx}")
            x = layer(x)  # [N, features]
        ws = x.unsqueeze(1).repeat([1, self.num_ws, 1])  # [N, num_ws, w_dim]
        if isinstance(truncation_psi, torch.Tensor) or truncation_psi != 1:
            psi = (truncation_psi.to(device=ws.device, dtype=ws.dtype)
                   if isinstance(truncation_psi, torch.Tensor) else float(truncation_psi))
            if truncation_cutoff is None:
                ws = self.w_avg.lerp(ws, psi)  # [N, num_ws, w_dim]
            else:
                ws[:, :truncation_cutoff] = self.w_avg.lerp(ws[:, :truncation_cutoff], psi)
        return ws

    def extra_repr(self) -> str:
        return f"z_dim={self.z_dim}, c_dim={self.c_dim}, w_dim={self.w_dim}, num_ws={self.num_ws}"
