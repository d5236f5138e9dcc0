"""StyleGAN3 building blocks: the alias-free layer layout, filter design, Fourier input and layers.

Written from the published description of "Alias-Free Generative Adversarial Networks" (Karras et al.
2021). Parameter and buffer names match the official checkpoints so their weights load unchanged.

The layout is a pure function of the constructor arguments (:func:`derive_layout`): cutoffs and
minimum stopbands grow geometrically from the first layer to the last, each layer's sampling rate is
the smallest power of two that holds twice its stopband (capped at the image resolution), and the
last ``num_critical`` layers are critically sampled (cutoff = Nyquist).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from stylegan_ops import filtered_lrelu, modulated_conv2d_sg3

from .generator import OpImpls, op_impl
from .mapping import FullyConnectedLayer

# --------------------------------------------------------------------------------------------------
# Filter design (Kaiser-windowed sinc, and the radially symmetric jinc of config R)

def kaiser_beta_for(numtaps: int, width_rel_nyquist: float) -> float:
    """Kaiser window beta for a filter of ``numtaps`` with a transition band of the given relative width.

    Kaiser's empirical formulas: attenuation A = 2.285 (N - 1) pi width + 7.95 dB, then
    beta = 0.1102 (A - 8.7) above 50 dB, 0.5842 (A - 21)^0.4 + 0.07886 (A - 21) above 21 dB, else 0.
    """
    atten = 2.285 * (numtaps - 1) * math.pi * width_rel_nyquist + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """Low-pass FIR filter: float32 ``[numtaps]`` (separable) or ``[numtaps, numtaps]`` (radial).

    Separable: a sinc windowed by Kaiser, normalised to unit gain at DC (a firwin-style design).
    Radial: a jinc ``J1(2 pi fc r) / (pi r)`` windowed by the outer product of two Kaiser windows,
    normalised to sum 1. ``numtaps == 1`` means no filtering and returns None.
    """
    if numtaps < 1:
        raise ValueError(f"numtaps must be >= 1, got {numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    window = np.kaiser(numtaps, kaiser_beta_for(numtaps, width / nyquist))  # [T] float64
    if not radial:
        rel_cutoff = cutoff / nyquist
        offsets = np.arange(numtaps) - (numtaps - 1) / 2                    # [T]
        taps = rel_cutoff * np.sinc(rel_cutoff * offsets) * window          # [T]
        taps = taps / taps.sum()
        return torch.as_tensor(taps, dtype=torch.float32)
    coords = (np.arange(numtaps) - (numtaps - 1) / 2) / fs                  # [T]
    radius = np.hypot(*np.meshgrid(coords, coords))                         # [T, T]
    arg = torch.as_tensor(2 * math.pi * cutoff * radius, dtype=torch.float64)
    bessel = torch.special.bessel_j1(arg).numpy()                           # [T, T]
    with np.errstate(divide="ignore", invalid="ignore"):
        jinc = np.where(radius > 0, bessel / (math.pi * np.where(radius > 0, radius, 1)), cutoff)
    taps2d = jinc * np.outer(window, window)                                # [T, T]
    taps2d = taps2d / taps2d.sum()
    return torch.as_tensor(taps2d, dtype=torch.float32)


# --------------------------------------------------------------------------------------------------
# Layout

@dataclass(frozen=True)
class LayerSpec:
    """Everything one synthesis layer derives from the generator's kwargs."""
    name: str                     # "L{idx}_{out_size}_{out_channels}"
    in_channels: int
    out_channels: int
    in_size: int                  # square feature maps (official code stores [width, height])
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    in_cutoff: float              # f_c of the input signal
    out_cutoff: float
    in_half_width: float          # f_h, half the transition band
    out_half_width: float
    up_factor: int
    down_factor: int
    up_taps: int
    down_taps: int
    down_radial: bool             # radially symmetric down filter (config R, not critically sampled)
    padding: tuple[int, int, int, int]   # (x_lo, x_hi, y_lo, y_hi) for filtered_lrelu
    conv_kernel: int
    is_torgb: bool
    is_critically_sampled: bool
    use_fp16: bool                # fp16 on CUDA unless forced to fp32


@dataclass(frozen=True)
class InputSpec:
    """The Fourier-feature input: its channels, spatial size, sampling rate and bandwidth."""
    channels: int
    size: int
    sampling_rate: float
    bandwidth: float


@dataclass(frozen=True)
class SynthesisLayout:
    input: InputSpec
    layers: tuple[LayerSpec, ...]


def derive_layout(img_resolution: int, img_channels: int, channel_base: int = 32768,
                  channel_max: int = 512, num_layers: int = 14, num_critical: int = 2,
                  first_cutoff: float = 2, first_stopband: float = 2 ** 2.1,
                  last_stopband_rel: float = 2 ** 0.3, margin_size: int = 10,
                  num_fp16_res: int = 4, conv_kernel: int = 3, filter_size: int = 6,
                  lrelu_upsampling: int = 2, use_radial_filters: bool = False) -> SynthesisLayout:
    """Per-layer sizes, sampling rates, cutoffs, half-widths, taps and paddings (all in float64)."""
    last_cutoff = img_resolution / 2
    last_stopband = last_cutoff * last_stopband_rel
    progress = np.minimum(np.arange(num_layers + 1) / (num_layers - num_critical), 1)  # [L+1]
    cutoffs = first_cutoff * (last_cutoff / first_cutoff) ** progress
    stopbands = first_stopband * (last_stopband / first_stopband) ** progress
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, img_resolution))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + margin_size * 2
    sizes[-2:] = img_resolution
    channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
    channels[-1] = img_channels

    specs = []
    for idx in range(num_layers + 1):
        prev = max(idx - 1, 0)
        is_torgb = idx == num_layers
        critical = idx >= num_layers - num_critical
        in_rate, out_rate = int(rates[prev]), int(rates[idx])
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else lrelu_upsampling)
        up = int(round(tmp_rate / in_rate))
        down = int(round(tmp_rate / out_rate))
        up_taps = filter_size * up if up > 1 and not is_torgb else 1
        down_taps = filter_size * down if down > 1 and not is_torgb else 1
        kernel = 1 if is_torgb else conv_kernel
        in_size, out_size = int(sizes[prev]), int(sizes[idx])
        # Full-rate length wanted before downsampling, minus what the upsampled conv output and the
        # two filters provide; the low side gets the extra half so sample centres stay symmetric.
        pad_total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2
        pad_hi = pad_total - pad_lo
        out_channels = int(channels[idx])
        specs.append(LayerSpec(
            name=f"L{idx}_{out_size}_{out_channels}",
            in_channels=int(channels[prev]), out_channels=out_channels,
            in_size=in_size, out_size=out_size,
            in_sampling_rate=in_rate, out_sampling_rate=out_rate,
            in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[idx]),
            in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[idx]),
            up_factor=up, down_factor=down, up_taps=up_taps, down_taps=down_taps,
            down_radial=bool(use_radial_filters and not critical),
            padding=(pad_lo, pad_hi, pad_lo, pad_hi), conv_kernel=kernel,
            is_torgb=is_torgb, is_critically_sampled=bool(critical),
            use_fp16=bool(rates[idx] * 2 ** num_fp16_res > img_resolution)))
    first = InputSpec(channels=int(channels[0]), size=int(sizes[0]),
                      sampling_rate=float(rates[0]), bandwidth=float(cutoffs[0]))
    return SynthesisLayout(input=first, layers=tuple(specs))


# --------------------------------------------------------------------------------------------------
# Modules

class SynthesisInput(torch.nn.Module):
    """Fourier features on a fixed grid, turned and shifted by a style-driven similarity transform."""

    freqs: torch.Tensor               # buffers, declared for the type checker
    phases: torch.Tensor
    transform: torch.Tensor
    grid_coords: torch.Tensor

    def __init__(self, w_dim: int, spec: InputSpec):
        super().__init__()
        self.spec = spec
        channels = spec.channels
        # Frequencies spread over the disc of radius `bandwidth`; phases uniform in [-0.5, 0.5).
        freqs = torch.randn([channels, 2])                                   # [C, 2]
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()               # [C, 1]
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * spec.bandwidth
        self.weight = torch.nn.Parameter(torch.randn([channels, channels]))  # [C, C]
        # Starts as the identity transform: rotation (1, 0), no translation.
        self.affine = FullyConnectedLayer(w_dim, 4, weight_init=0, bias_init=[1.0, 0.0, 0.0, 0.0])
        self.register_buffer("transform", torch.eye(3, 3))                  # user inverse transform
        self.register_buffer("freqs", freqs)                                 # [C, 2]
        self.register_buffer("phases", torch.rand([channels]) - 0.5)         # [C]
        offsets = (torch.arange(spec.size, dtype=torch.float64) + 0.5 - spec.size / 2)
        self.register_buffer("grid_coords", (offsets / spec.sampling_rate).float(),
                             persistent=False)                               # [S] pixel centres

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """``w [N, w_dim]`` -> features ``[N, C, S, S]``; ``transform`` overrides the buffer."""
        n = w.shape[0]
        user = (self.transform if transform is None else transform).to(w.device, torch.float32)
        t = self.affine(w)                                                   # [N, 4] (rc, rs, tx, ty)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        rot = torch.eye(3, device=w.device).repeat(n, 1, 1)                  # [N, 3, 3]
        rot[:, 0, 0] = t[:, 0]
        rot[:, 0, 1] = -t[:, 1]
        rot[:, 1, 0] = t[:, 1]
        rot[:, 1, 1] = t[:, 0]
        shift = torch.eye(3, device=w.device).repeat(n, 1, 1)                # [N, 3, 3]
        shift[:, 0, 2] = -t[:, 2]
        shift[:, 1, 2] = -t[:, 3]
        m = rot @ shift @ user.unsqueeze(0)                                  # [N, 3, 3]

        freqs = self.freqs.unsqueeze(0)                                      # [1, C, 2]
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = freqs @ m[:, :2, :2]                                         # [N, C, 2]
        # Fade out frequencies a user transform pushes past the band (towards Nyquist).
        band = self.spec.bandwidth
        amplitudes = (1 - (freqs.norm(dim=2) - band) / (self.spec.sampling_rate / 2 - band))
        amplitudes = amplitudes.clamp(0, 1)                                  # [N, C]

        g = self.grid_coords.to(w.device)                                    # [S]
        x = (g.view(1, 1, -1, 1) * freqs[:, :, 0].view(n, 1, 1, -1)
             + g.view(1, -1, 1, 1) * freqs[:, :, 1].view(n, 1, 1, -1))      # [N, S(y), S(x), C]
        x = x + phases.view(n, 1, 1, -1)
        x = torch.sin(x * (2 * math.pi)) * amplitudes.view(n, 1, 1, -1)      # [N, S, S, C]
        x = x @ (self.weight / math.sqrt(self.spec.channels)).t()            # [N, S, S, C]
        return x.permute(0, 3, 1, 2)                                         # [N, C, S, S]


class SynthesisLayer(torch.nn.Module):
    """Modulated conv, then bias + upsample + leaky ReLU + downsample (+ clamp) as one filtered op."""

    magnitude_ema: torch.Tensor       # buffers, declared for the type checker
    up_filter: torch.Tensor
    down_filter: torch.Tensor

    def __init__(self, w_dim: int, spec: LayerSpec, filter_size: int = 6,
                 conv_clamp: float | None = 256, magnitude_ema_beta: float = 0.999):
        super().__init__()
        self.spec = spec
        self.use_fp16 = spec.use_fp16                  # settable through G.num_fp16_res
        self.conv_clamp = conv_clamp
        self.magnitude_ema_beta = magnitude_ema_beta   # training only; kept for init_kwargs fidelity
        k = spec.conv_kernel
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels, bias_init=1)
        self.weight = torch.nn.Parameter(torch.randn([spec.out_channels, spec.in_channels, k, k]))
        self.bias = torch.nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        tmp_rate = spec.in_sampling_rate * spec.up_factor
        self.register_buffer("up_filter", design_lowpass_filter(
            spec.up_taps, spec.in_cutoff, spec.in_half_width * 2, tmp_rate))
        self.register_buffer("down_filter", design_lowpass_filter(
            spec.down_taps, spec.out_cutoff, spec.out_half_width * 2, tmp_rate,
            radial=spec.down_radial))

    def forward(self, x: torch.Tensor, w: torch.Tensor, dtype: torch.dtype = torch.float32,
                impl: str | OpImpls = "ref") -> torch.Tensor:
        """``x [N, Cin, in_size, in_size]``, ``w [N, w_dim]`` -> ``[N, Cout, out_size, out_size]``."""
        spec = self.spec
        input_gain = self.magnitude_ema.rsqrt()       # normalises the input by its tracked RMS
        styles = self.affine(w)                                              # [N, Cin]
        if spec.is_torgb:
            styles = styles * (1 / math.sqrt(spec.in_channels * spec.conv_kernel ** 2))
        x = modulated_conv2d_sg3(x.to(dtype), self.weight, styles, demodulate=not spec.is_torgb,
                                 padding=spec.conv_kernel - 1, input_gain=input_gain,
                                 impl=op_impl(impl, "modulated_conv"))      # [N, Cout, H', W']
        x = filtered_lrelu(x, fu=self.up_filter, fd=self.down_filter, b=self.bias.to(x.dtype),
                           up=spec.up_factor, down=spec.down_factor, padding=list(spec.padding),
                           gain=1.0 if spec.is_torgb else math.sqrt(2),
                           slope=1.0 if spec.is_torgb else 0.2, clamp=self.conv_clamp,
                           impl=op_impl(impl, "filtered_lrelu"))            # [N, Cout, S, S]
        return x
