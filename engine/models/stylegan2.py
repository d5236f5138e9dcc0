"""StyleGAN2(-ADA) generator with the official state_dict keys (architectures orig, skip, resnet).

Layout (``R`` = block resolution, 4 .. img_resolution; channels ``min(channel_base // R, channel_max)``):

- ``synthesis.b4``: learned ``const`` [C, 4, 4] and ``conv1``; every later block ``b{R}`` has ``conv0``
  (2x upsampling) and ``conv1``. Each conv is modulated by an affine of one w row, demodulated, gets
  per-pixel noise ``noise_const * noise_strength`` (or random noise), bias, lrelu * sqrt(2), clamp.
- ``torgb`` (1x1 modulated conv, no demodulation, linear): in every block for ``skip`` (the image is
  upsampled with the block's ``resample_filter`` and summed), only in the last block for ``orig`` and
  ``resnet``. ``resnet`` adds ``skip`` (bias-free 1x1 conv after 2x upsampling) and scales both paths
  by sqrt(1/2).
- w rows: block ``b{R}`` reads rows ``[k, k + num_conv + num_torgb)`` with ``k`` = convs before it, so
  ``b4.conv1`` = 0, ``b8.conv0`` and ``b4.torgb`` = 1, ``b8.conv1`` = 2, ...; num_ws = convs + 1.

Precision (see :mod:`engine.models.generator`): the ``num_fp16_res`` highest-resolution blocks (settable,
``G.num_fp16_res``) are fp16 blocks as in the official code; ``G.precision`` says when they compute in
float16 (``'auto'``: on CUDA only; ``force_fp32=True`` turns it off per call). The ToRGB outputs are
summed in float32 and the image is always float32.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.errors import NetblendError
from engine.models.generator import (
    NOISE_MODES,
    GeneratorBase,
    GeneratorInputError,
    check_noise_mode,
    check_ws,
    op_impl,
    uses_half,
)
from engine.models.layers import LayerEntry, LayerTable
from engine.models.mapping import FullyConnectedLayer, MappingNetwork
from stylegan_ops import ACTIVATIONS, bias_act, modulated_conv2d, setup_filter, upsample2d

ARCHITECTURES = ("orig", "skip", "resnet")
__all__ = ["ARCHITECTURES", "NOISE_MODES", "StyleGAN2Generator", "stylegan2_layer_table"]


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x upsampling) + noise + bias + activation."""

    resample_filter: torch.Tensor
    noise_const: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 kernel_size: int = 3, use_noise: bool = True, activation: str = "lrelu",
                 resample_filter: tuple[float, ...] = (1, 3, 3, 1), conv_clamp: float | None = None) -> None:
        super().__init__()
        self.resolution, self.up = resolution, up
        self.use_noise, self.activation, self.conv_clamp = use_noise, activation, conv_clamp
        self.padding = kernel_size // 2
        self.impl = "ref"
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def _noise(self, x: torch.Tensor, noise_mode: str, noise_gain: float | torch.Tensor) -> torch.Tensor | None:
        if not self.use_noise or noise_mode == "none":
            return None
        if noise_mode == "random":
            noise = torch.randn([x.shape[0], 1, self.resolution, self.resolution], device=x.device)
            noise = noise * self.noise_strength  # [N, 1, R, R]
        else:
            noise = self.noise_const * self.noise_strength  # [R, R]
        if isinstance(noise_gain, torch.Tensor):      # a live gain on the device: never read it on the host
            return noise * noise_gain
        return noise if noise_gain == 1 else noise * noise_gain

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const", noise_gain: float = 1.0,
                fused_modconv: bool = True, gain: float = 1.0) -> torch.Tensor:
        styles = self.affine(w)  # [N, in_channels]
        noise = self._noise(x, noise_mode, noise_gain)
        if noise is not None:
            noise = noise.to(x.dtype)  # [R, R] or [N, 1, R, R]
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up,
                             padding=self.padding, resample_filter=self.resample_filter,
                             flip_weight=(self.up == 1), fused_modconv=fused_modconv,
                             impl=op_impl(self.impl, "modulated_conv"))  # [N, out, R, R]
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        act_gain = ACTIVATIONS[self.activation][2] * gain  # the activation's default gain (lrelu: sqrt 2)
        return bias_act(x, self.bias.to(x.dtype), act=self.activation, gain=act_gain, clamp=clamp,
                        impl=op_impl(self.impl, "bias_act"))  # [N, out, R, R]


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.impl = "ref"
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused_modconv: bool = True) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # [N, in_channels]
        x = modulated_conv2d(x, self.weight, styles, demodulate=False,
                             fused_modconv=fused_modconv,
                             impl=op_impl(self.impl, "modulated_conv"))  # [N, img_channels, R, R]
        return bias_act(x, self.bias.to(x.dtype), clamp=self.conv_clamp, impl=op_impl(self.impl, "bias_act"))


class SkipLayer(nn.Module):
    """The resnet shortcut: 2x upsampling (FIR) then a bias-free, linear 1x1 conv."""

    resample_filter: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, resample_filter: tuple[float, ...]) -> None:
        super().__init__()
        self.impl = "ref"
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = upsample2d(x, self.resample_filter, impl=op_impl(self.impl, "upfirdn2d"))  # [N, in, 2H, 2W]
        weight = (self.weight * self.weight_gain).to(x.dtype)  # [out, in, 1, 1]
        x = torch.nn.functional.conv2d(x, weight)  # [N, out, 2H, 2W]
        return x * gain if gain != 1 else x


class SynthesisBlock(nn.Module):
    """One resolution: const or upsampling conv0, conv1, optional torgb and resnet skip."""

    resample_filter: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str = "skip", resample_filter: tuple[float, ...] = (1, 3, 3, 1),
                 conv_clamp: float | None = None, use_fp16: bool = False, **layer_kwargs) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.resolution, self.img_channels = resolution, img_channels
        self.is_last, self.architecture, self.use_fp16 = is_last, architecture, use_fp16
        self.impl = "ref"
        self.register_buffer("resample_filter", setup_filter(list(resample_filter)))
        self.num_conv = 0
        self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp,
                                        **layer_kwargs)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution,
                                    resample_filter=resample_filter, conv_clamp=conv_clamp, **layer_kwargs)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels != 0 and architecture == "resnet":
            self.skip = SkipLayer(in_channels, out_channels, resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None, ws: torch.Tensor, dtype: torch.dtype,
                fused_modconv: bool | None, noise_mode: str, noise_gain: float
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        rows = iter(ws.unbind(dim=1))  # num_conv + num_torgb tensors [N, w_dim]
        if fused_modconv is None:
            fused_modconv = dtype == torch.float32 or ws.shape[0] == 1
        noise = {"noise_mode": noise_mode, "noise_gain": noise_gain, "fused_modconv": fused_modconv}
        if x is None:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])  # [N, C, 4, 4]
            x = self.conv1(x, next(rows), **noise)  # [N, C, 4, 4]
        elif self.architecture == "resnet":
            x = x.to(dtype)  # [N, in, R/2, R/2]
            y = self.skip(x, gain=math.sqrt(0.5))  # [N, out, R, R]
            x = self.conv0(x, next(rows), **noise)  # [N, out, R, R]
            x = self.conv1(x, next(rows), gain=math.sqrt(0.5), **noise)
            x = y.add_(x)
        else:
            x = x.to(dtype)
            x = self.conv0(x, next(rows), **noise)  # [N, out, R, R]
            x = self.conv1(x, next(rows), **noise)
        if img is not None:
            img = upsample2d(img, self.resample_filter, impl=op_impl(self.impl, "upfirdn2d"))  # [N, 3, R, R]
        if self.num_torgb:
            y = self.torgb(x, next(rows), fused_modconv=fused_modconv).to(torch.float32)
            img = img.add_(y) if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image float32 [N, img_channels, R, R] (unclamped)."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, num_fp16_res: int = 0, **block_kwargs) -> None:
        super().__init__()
        log2 = int(round(math.log2(img_resolution))) if img_resolution > 0 else 0
        if img_resolution < 4 or 2 ** log2 != img_resolution:
            raise NetblendError(f"img_resolution {img_resolution} is not a power of two >= 4; "
                                f"StyleGAN2 models are 4x4, 8x8, ..., 1024x1024")
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.impl = "ref"                     # stylegan_ops implementation (set through G.impl)
        self.precision = "auto"               # when fp16 blocks compute in float16 (see engine.models.generator)
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        self.channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(self.channels[res // 2] if res > 4 else 0, self.channels[res], w_dim, res,
                                   img_channels, is_last=(res == img_resolution), **block_kwargs)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)
        self.set_num_fp16_res(num_fp16_res)

    def set_num_fp16_res(self, num_fp16_res: int) -> None:
        """Mark the last ``num_fp16_res`` blocks (never below 8x8) as fp16 blocks, as the official code does."""
        log2 = int(round(math.log2(self.img_resolution)))
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_fp16_res = num_fp16_res
        for block in self.blocks():
            block.use_fp16 = block.resolution >= fp16_resolution

    def blocks(self) -> list[SynthesisBlock]:
        """The blocks in synthesis order (b4, b8, ...)."""
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def forward(self, ws, noise_mode: str = "const", transform=None, noise_gain: float = 1.0,
                force_fp32: bool = False, fused_modconv: bool | None = None) -> torch.Tensor:
        """Render ws [N, num_ws, w_dim] (tensor or numpy) to a float32 image [N, C, R, R].

        ``noise_mode``: const (stored noise) | random | none; ``noise_gain`` scales every layer's noise.
        fp16 blocks compute in float16 when ``self.precision`` says so and ``force_fp32`` is off.
        """
        if transform is not None:
            raise GeneratorInputError("StyleGAN2 has no input transform (translate/rotate are StyleGAN3 only); "
                                      "pass transform=None")
        check_noise_mode(noise_mode)
        device = self.blocks()[0].const.device
        ws = check_ws(ws, self.num_ws, self.w_dim, device)
        half = torch.float16 if uses_half(self.precision, device, force_fp32) else torch.float32
        x = img = None
        w_idx = 0
        for block in self.blocks():
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)  # [N, k, w_dim]
            dtype = half if block.use_fp16 else torch.float32
            x, img = block(x, img, block_ws, dtype, fused_modconv, noise_mode, noise_gain)
            w_idx += block.num_conv
        assert img is not None  # the last block always has a ToRGB
        return img.contiguous()  # NCHW, whatever layout the fast ops left it in


class StyleGAN2Generator(GeneratorBase):
    """The StyleGAN2(-ADA) generator: ``mapping`` (z, c -> ws) and ``synthesis`` (ws -> image)."""

    family = "stylegan2"
    synthesis: SynthesisNetwork
    mapping: MappingNetwork
    EXTRA_KWARGS = frozenset({"kernel_size", "use_noise", "activation"})  # what **layer_kwargs takes

    def __init__(self,
                 z_dim: int,                                # input latent size
                 c_dim: int,                                # label size, 0 = unconditional
                 w_dim: int,                                # W size
                 img_resolution: int,                       # output resolution (power of two)
                 img_channels: int = 3,                     # output colour channels
                 mapping_kwargs: dict | None = None,        # MappingNetwork kwargs (num_layers, ...)
                 channel_base: int = 32768,                 # channels = min(channel_base // res, channel_max)
                 channel_max: int = 512,
                 num_fp16_res: int = 0,                     # fp16 blocks: the N highest resolutions
                 conv_clamp: float | None = None,           # clamp conv outputs to +-X
                 architecture: str = "skip",                # orig | skip | resnet
                 resample_filter: tuple[float, ...] | list[float] = (1, 3, 3, 1),  # FIR taps for resampling
                 fp16_channels_last: bool = False,          # training-time memory format (ignored)
                 fused_modconv_default: bool | str = True,  # StyleGAN3-repo kwarg (ignored)
                 **layer_kwargs,                            # SynthesisLayer kwargs (kernel_size, ...)
                 ) -> None:
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise NetblendError(f"architecture {architecture!r} is unknown; "
                                f"StyleGAN2 has {', '.join(ARCHITECTURES)}")
        mapping_kwargs = dict(mapping_kwargs or {})
        self.init_kwargs = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution,
                                img_channels=img_channels, mapping_kwargs=mapping_kwargs,
                                channel_base=channel_base, channel_max=channel_max, num_fp16_res=num_fp16_res,
                                conv_clamp=conv_clamp, architecture=architecture,
                                resample_filter=list(resample_filter), **layer_kwargs)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.config = architecture
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, channel_base=channel_base,
                                          channel_max=channel_max, num_fp16_res=num_fp16_res,
                                          architecture=architecture, resample_filter=tuple(resample_filter),
                                          conv_clamp=conv_clamp, **layer_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, **mapping_kwargs)
        self.layers = stylegan2_layer_table(self)
        self.eval()


def _layer_params(prefix: str, layer: nn.Module, kind_of_weight: str) -> list[tuple[str, str]]:
    """(key, kind) for one SynthesisLayer or ToRGBLayer; resample filters are left to ``fixed``."""
    kinds = {"weight": kind_of_weight, "bias": "bias", "noise_strength": "noise", "noise_const": "noise",
             "affine.weight": "affine", "affine.bias": "affine"}
    params = []
    for name, _ in list(layer.named_parameters()) + list(layer.named_buffers()):
        if name != "resample_filter":
            params.append((f"{prefix}.{name}", "torgb" if kind_of_weight == "torgb" else kinds[name]))
    return params


def stylegan2_layer_table(G: StyleGAN2Generator) -> LayerTable:
    """The layer table of a StyleGAN2 generator: entry ``i`` holds what ``w[i]`` styles.

    A torgb styled by the same row as the next block's conv0 joins that entry ("b8.conv0 + b4.torgb");
    ``b4.const`` joins entry 0. A resnet block's ``skip.weight`` (kind ``conv``) joins the entry of
    that block's conv1, the layer after which the shortcut is summed.
    """
    owners: list[list[tuple[str, int, int, list[tuple[str, str]]]]] = [[] for _ in range(G.num_ws)]
    fixed: list[str] = []
    w_idx = 0
    for block in G.synthesis.blocks():
        prefix = f"synthesis.b{block.resolution}"
        fixed.append(f"{prefix}.resample_filter")
        row = w_idx
        for conv_name in ("conv0", "conv1"):
            if not hasattr(block, conv_name):
                continue
            params = _layer_params(f"{prefix}.{conv_name}", getattr(block, conv_name), "conv")
            fixed.append(f"{prefix}.{conv_name}.resample_filter")
            label = f"b{block.resolution}.{conv_name}"
            if conv_name == "conv1" and hasattr(block, "const"):
                params.insert(0, (f"{prefix}.const", "const"))
                label = f"b{block.resolution}.const + {label}"
            if conv_name == "conv1" and hasattr(block, "skip"):
                params.append((f"{prefix}.skip.weight", "conv"))
                fixed.append(f"{prefix}.skip.resample_filter")
            owners[row].append((label, block.resolution, block.out_channels, params))
            row += 1
        if block.num_torgb:
            params = _layer_params(f"{prefix}.torgb", block.torgb, "torgb")
            owners[row].append((f"b{block.resolution}.torgb", G.img_resolution if block.is_last
                                else block.resolution, G.img_channels, params))
        w_idx += block.num_conv
    entries = []
    for index, parts in enumerate(owners):
        parts.sort(key=lambda part: part[0].endswith(".torgb"))  # the conv names the entry
        main = parts[0]
        entries.append(LayerEntry(index=index, name=" + ".join(part[0] for part in parts),
                                  resolution=main[1], channels=main[2],
                                  params=tuple(param for part in parts for param in part[3])))
    mapping = [(f"mapping.{name}", "mapping") for name, _ in
               list(G.mapping.named_parameters()) + list(G.mapping.named_buffers())]
    return LayerTable(entries, mapping=mapping, fixed=fixed)
