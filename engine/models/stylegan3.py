"""Our StyleGAN3 generator (configs T and R), state_dict-compatible with the official checkpoints.

``StyleGAN3Generator(**init_kwargs)`` takes the constructor kwargs an official training pickle
records (flat: ``channel_base``, ``channel_max``, ``conv_kernel``, ``use_radial_filters``, ...; a
nested ``synthesis_kwargs`` dict is accepted too). Config R is T with 1x1 convolutions, radially
symmetric downsampling filters and doubled ``channel_base``/``channel_max``
(:func:`stylegan3_kwargs` returns the official training kwargs of either config).

Precision (see :mod:`engine.models.generator`): the layers of the ``num_fp16_res`` highest sampling rates
(settable, ``G.num_fp16_res``; official default 4) are fp16 layers; ``G.precision`` says when they compute
in float16 (``'auto'``: on CUDA only; ``force_fp32=True`` turns it off per call). The image is float32.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .generator import NOISE_MODES, GeneratorBase, GeneratorInputError, check_noise_mode, check_ws, uses_half
from .layers import LayerEntry, LayerTable
from .mapping import MappingNetwork
from .stylegan3_layers import SynthesisInput, SynthesisLayer, SynthesisLayout, derive_layout

__all__ = ["NOISE_MODES", "StyleGAN3Generator", "build_layer_table", "make_transform", "stylegan3_kwargs"]
DEFAULT_NUM_FP16_RES = 4              # derive_layout's (and the official StyleGAN3's) default
# StyleGAN3's own mapping defaults (the shared MappingNetwork defaults to StyleGAN2's 8 layers).
MAPPING_DEFAULTS = {"num_layers": 2, "w_avg_beta": 0.998}

# Keys of derive_layout and of SynthesisLayer, as the official kwargs spell them.
_LAYOUT_KEYS = ("channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff",
                "first_stopband", "last_stopband_rel", "margin_size", "num_fp16_res",
                "conv_kernel", "filter_size", "lrelu_upsampling", "use_radial_filters")
_LAYER_KEYS = ("conv_clamp", "magnitude_ema_beta")


def make_transform(translate: tuple[float, float] = (0.0, 0.0), angle_deg: float = 0.0) -> torch.Tensor:
    """The 3x3 float32 matrix to place in ``synthesis.input.transform`` for a translate + rotate.

    ``translate`` is in units of the image width (the Fourier grid spans about [-0.5, 0.5] across
    the image), ``angle_deg`` in degrees; the buffer holds the inverse of
    ``[[c, s, tx], [-s, c, ty], [0, 0, 1]]`` (c, s = cos, sin of the angle), as the official tools do.
    """
    angle = math.radians(angle_deg)
    c, s = math.cos(angle), math.sin(angle)
    forward = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]])
    return torch.as_tensor(np.linalg.inv(forward), dtype=torch.float32)


def stylegan3_kwargs(config: str, img_resolution: int, z_dim: int = 512, w_dim: int = 512,
                     c_dim: int = 0, channel_base: int = 32768, channel_max: int = 512,
                     mapping_layers: int = 2, batch_size: int = 32) -> dict[str, Any]:
    """Flat init kwargs as the official trainer records them for config ``"T"`` or ``"R"``.

    R doubles ``channel_base`` and ``channel_max``, uses 1x1 convolutions and radial filters.
    ``magnitude_ema_beta`` follows the trainer's rule ``0.5 ** (batch_size / 20000)``.
    """
    if config not in ("T", "R"):
        raise ValueError(f"StyleGAN3 config must be 'T' or 'R', got {config!r}")
    kwargs: dict[str, Any] = dict(
        z_dim=z_dim, w_dim=w_dim, c_dim=c_dim, img_resolution=img_resolution, img_channels=3,
        mapping_kwargs={"num_layers": mapping_layers}, channel_base=channel_base,
        channel_max=channel_max, magnitude_ema_beta=0.5 ** (batch_size / 20000))
    if config == "R":
        kwargs.update(channel_base=channel_base * 2, channel_max=channel_max * 2, conv_kernel=1,
                      use_radial_filters=True)
    return kwargs


class SynthesisNetwork(torch.nn.Module):
    """ws ``[N, num_ws, w_dim]`` -> image ``[N, img_channels, R, R]`` (float32, unclamped)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int,
                 output_scale: float = 0.25, conv_clamp: float | None = 256,
                 magnitude_ema_beta: float = 0.999, **layout_kwargs: Any):
        super().__init__()
        self.w_dim = w_dim
        self.img_resolution = img_resolution
        self.img_channels = img_channels
        self.output_scale = output_scale
        self.layout: SynthesisLayout = derive_layout(img_resolution, img_channels, **layout_kwargs)
        self.num_ws = len(self.layout.layers) + 1
        self.impl = "ref"                     # stylegan_ops implementation used by every layer
        self.precision = "auto"               # when fp16 layers compute in float16 (engine.models.generator)
        self.input = SynthesisInput(w_dim, self.layout.input)
        self.layer_names = []
        filter_size = layout_kwargs.get("filter_size", 6)
        for spec in self.layout.layers:
            layer = SynthesisLayer(w_dim, spec, filter_size=filter_size, conv_clamp=conv_clamp,
                                   magnitude_ema_beta=magnitude_ema_beta)
            self.add_module(spec.name, layer)
            self.layer_names.append(spec.name)
        self.set_num_fp16_res(layout_kwargs.get("num_fp16_res", DEFAULT_NUM_FP16_RES))

    def set_num_fp16_res(self, num_fp16_res: int) -> None:
        """Mark the layers whose sampling rate times ``2**num_fp16_res`` exceeds the image resolution as
        fp16 layers (the layout's rule, so the constructor's value reproduces ``spec.use_fp16``)."""
        self.num_fp16_res = num_fp16_res
        for name in self.layer_names:
            layer = getattr(self, name)
            layer.use_fp16 = layer.spec.out_sampling_rate * 2 ** num_fp16_res > self.img_resolution

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", transform: torch.Tensor | None = None,
                noise_gain: float = 1.0, force_fp32: bool = False) -> torch.Tensor:
        """Render. ``noise_mode``/``noise_gain`` are accepted for API symmetry (StyleGAN3 has no noise);
        ``transform`` (3x3) replaces the ``input.transform`` buffer for this call only."""
        check_noise_mode(noise_mode)
        device = self.input.freqs.device
        if transform is not None and tuple(getattr(transform, "shape", ())) != (3, 3):
            raise GeneratorInputError(f"transform must be a 3x3 matrix (engine.models.stylegan3.make_transform), "
                                      f"got shape {tuple(getattr(transform, 'shape', ()))}")
        rows = check_ws(ws, self.num_ws, self.w_dim, device).unbind(dim=1)  # num_ws x [N, w_dim]
        x = self.input(rows[0], transform=transform)                         # [N, C0, S0, S0]
        half = uses_half(self.precision, device, force_fp32)
        for name, w in zip(self.layer_names, rows[1:]):
            layer = getattr(self, name)
            x = layer(x, w, dtype=torch.float16 if half and layer.use_fp16 else torch.float32, impl=self.impl)
        x = x.to(torch.float32).contiguous()                                 # [N, 3, R, R] (fast ops may
        return x * self.output_scale if self.output_scale != 1 else x        # leave it channels_last)


class StyleGAN3Generator(GeneratorBase):
    """The official StyleGAN3 generator's interface and keys: ``mapping`` + ``synthesis``."""

    family = "stylegan3"

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, img_resolution: int, img_channels: int,
                 mapping_kwargs: dict[str, Any] | None = None,
                 synthesis_kwargs: dict[str, Any] | None = None, **flat_synthesis_kwargs: Any):
        super().__init__()
        synthesis_args = {**(synthesis_kwargs or {}), **flat_synthesis_kwargs}
        unknown = set(synthesis_args) - set(_LAYOUT_KEYS) - set(_LAYER_KEYS) - {"output_scale"}
        if unknown:
            raise TypeError(f"unknown StyleGAN3 kwargs: {', '.join(sorted(unknown))}")
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.init_kwargs: dict[str, Any] = dict(
            z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
            img_channels=img_channels, mapping_kwargs=dict(mapping_kwargs or {}), **synthesis_args)
        self.config = "R" if synthesis_args.get("use_radial_filters", False) else "T"
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, **synthesis_args)
        self.num_ws = self.synthesis.num_ws
        mapping_args = {**MAPPING_DEFAULTS, **(mapping_kwargs or {})}
        self.mapping = MappingNetwork(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, num_ws=self.num_ws,
                                      **mapping_args)
        self._layers: LayerTable | None = None

    @property
    def layers(self) -> LayerTable:
        """The layer table: index 0 = input, index i = L{i-1}, last = the ToRGB layer."""
        if self._layers is None:
            self._layers = build_layer_table(self)
        return self._layers


def build_layer_table(G: StyleGAN3Generator) -> LayerTable:
    """List every float state_dict key of ``G`` under its layer (by w row), mapping, or fixed."""
    keys = list(G.state_dict().keys())
    input_keys = [k for k in keys if k.startswith("synthesis.input.")]
    fixed = ["synthesis.input.transform"]
    entries = [LayerEntry(index=0, name="input", resolution=G.synthesis.layout.input.size,
                          channels=G.synthesis.layout.input.channels, rate=int(G.synthesis.layout.input.sampling_rate),
                          params=tuple((k, "const") for k in input_keys if k not in fixed))]
    layer_kinds = {"weight": "conv", "bias": "bias", "affine.weight": "affine",
                   "affine.bias": "affine", "magnitude_ema": "stat"}
    for idx, spec in enumerate(G.synthesis.layout.layers, start=1):
        prefix = f"synthesis.{spec.name}."
        params = []
        for key in (k for k in keys if k.startswith(prefix)):
            suffix = key[len(prefix):]
            if suffix in ("up_filter", "down_filter"):
                fixed.append(key)
            else:
                params.append((key, "torgb" if spec.is_torgb else layer_kinds[suffix]))
        entries.append(LayerEntry(index=idx, name=spec.name, resolution=spec.out_size,
                                  channels=spec.out_channels, params=tuple(params), rate=spec.out_sampling_rate))
    mapping = [(k, "mapping") for k in keys if k.startswith("mapping.")]
    return LayerTable(entries, mapping, fixed)
