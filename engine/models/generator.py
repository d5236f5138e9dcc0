"""The ``Generator`` protocol both families implement, and the base class that implements it once.

Every generator netblend hands out (``StyleGAN2Generator``, ``StyleGAN3Generator`` and
``engine.blend.BlendedGenerator``) has the same surface::

    G.family, G.config, G.init_kwargs, G.layers
    G.z_dim, G.w_dim, G.c_dim, G.num_ws, G.img_resolution, G.img_channels
    G.impl          # settable: the stylegan_ops implementation every layer uses ('ref' | 'fast')
    G.precision     # settable: 'auto' (fp16 layers in half on CUDA only) | 'fp32' | 'fp16'
    G.num_fp16_res  # settable: how many of the highest resolutions are fp16 layers
    G.mapping(z, c=None, truncation_psi=1.0, truncation_cutoff=None)           -> ws [N, num_ws, w_dim]
    G.synthesis(ws, noise_mode="const", transform=None, noise_gain=1.0)        -> float32 [N, C, R, R]
    G(z, c=None, truncation_psi=1.0, truncation_cutoff=None, noise_mode="const", transform=None, noise_gain=1.0)

and the same mistakes raise the same exception, :class:`GeneratorInputError` (a ``NetblendError``
and a ``ValueError``): a z, c or ws of the wrong shape or type, an unknown noise mode, impl or
precision, a transform StyleGAN2 does not have, a negative ``num_fp16_res``.

Precision: ``num_fp16_res`` marks the layers of the highest resolutions as fp16 layers (StyleGAN2: the
last ``num_fp16_res`` blocks, at least 8x8; StyleGAN3: layers whose sampling rate times
``2**num_fp16_res`` exceeds the image resolution), as the official configs do (4). They compute in
float16 when ``precision`` says so: ``'auto'`` on CUDA only (CPU and MPS stay float32), ``'fp16'`` on
every device (the CPU runs it slowly: for tests), ``'fp32'`` never. The mapping network, the
accumulated StyleGAN2 image and the output are always float32. Tolerance against the float32
reference: see :data:`FP16_TOLERANCE`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
from torch import nn

from engine.errors import NetblendError
from stylegan_ops.bias_act import IMPLS

from .layers import LayerTable

PRECISIONS = ("auto", "fp32", "fp16")
NOISE_MODES = ("const", "random", "none")
# The fastest op implementation that passes parity with 'ref' on each device type. 'fast' was
# measured on this project's CPU (scripts/time_sg2.py, scripts/time_sg3.py; see docs/architecture.md)
# and passes the oracle parity tests there; CUDA and MPS take it too until a GPU session measures
# them (tests/models/test_generator_protocol.py::test_default_impl_matches_ref_on_the_gpu checks
# parity there). Extend this table when 'triton' or 'cuda' kernels pass that test on a device.
DEFAULT_IMPLS = {"cpu": "fast", "cuda": "fast", "mps": "fast"}
# The documented fp16 tolerance: with fp16 layers computing in half, the image differs from the
# float32 reference by at most this fraction of the reference's largest magnitude (max |fp16 - fp32|
# <= FP16_TOLERANCE * max |fp32|). Measured on the CPU over 20 tiny variants (StyleGAN2 orig/skip/resnet
# and StyleGAN3 T/R at 16 and 32 px, num_fp16_res 4, ref and fast ops, batch 4, psi 0.7): worst 0.52 %,
# mean error <= 0.055 %. The CUDA check (tests/models/test_fp16.py, gpu) holds the GPU to the same bound.
FP16_TOLERANCE = 0.01


class GeneratorInputError(NetblendError, ValueError):
    """A call or a setting a generator refuses; the message names the problem and the fix."""


def default_impl(device: str | torch.device = "cpu") -> str:
    """The op implementation the engine uses on ``device`` unless told otherwise (see DEFAULT_IMPLS)."""
    return DEFAULT_IMPLS.get(torch.device(device).type, "ref")


def check_impl(value: object) -> str:
    """``value`` if it names an op implementation, else :class:`GeneratorInputError`."""
    if value not in IMPLS:
        raise GeneratorInputError(f"impl {value!r} is unknown; use one of {', '.join(map(repr, IMPLS))}")
    return str(value)


def check_noise_mode(value: object) -> str:
    """``value`` if it is a noise mode, else :class:`GeneratorInputError`."""
    if value not in NOISE_MODES:
        raise GeneratorInputError(f"noise_mode {value!r} is unknown; use one of {', '.join(NOISE_MODES)}")
    return str(value)


def as_float32(value: Any, device: torch.device, what: str) -> torch.Tensor:
    """A numpy array (any float dtype), list or tensor as a float32 tensor on ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device=device, dtype=torch.float32)
    if isinstance(value, (np.ndarray, list, tuple)):
        return torch.as_tensor(np.asarray(value, dtype=np.float32), device=device)
    raise GeneratorInputError(f"{what} must be a numpy array or a torch tensor, got {type(value).__name__}")


def check_ws(ws: Any, num_ws: int, w_dim: int, device: torch.device) -> torch.Tensor:
    """ws as float32 ``[N, num_ws, w_dim]`` on ``device``, or :class:`GeneratorInputError`."""
    ws = as_float32(ws, device, "ws")
    if ws.ndim != 3 or tuple(ws.shape[1:]) != (num_ws, w_dim):
        raise GeneratorInputError(f"ws has shape {tuple(ws.shape)} but this model takes [N, {num_ws}, {w_dim}]; "
                                  f"make ws with G.mapping(z) or a W+ file made for this model")
    return ws


def uses_half(precision: str, device: torch.device, force_fp32: bool = False) -> bool:
    """Whether fp16 layers compute in float16 for this call (see the module docstring)."""
    if force_fp32 or precision == "fp32":
        return False
    return precision == "fp16" or device.type == "cuda"


@runtime_checkable
class Generator(Protocol):
    """What every netblend generator offers (see the module docstring)."""

    family: str
    config: str
    init_kwargs: dict[str, Any]
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    img_resolution: int
    img_channels: int
    impl: str
    precision: str
    num_fp16_res: int

    @property
    def layers(self) -> LayerTable: ...

    @property
    def mapping(self) -> Callable[..., torch.Tensor]: ...

    @property
    def synthesis(self) -> Callable[..., torch.Tensor]: ...

    def __call__(self, z: Any, c: Any = None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                 noise_mode: str = "const", transform: torch.Tensor | None = None,
                 noise_gain: float = 1.0) -> torch.Tensor: ...


class GeneratorBase(nn.Module):
    """The shared half of both families: impl, precision, fp16 layers, forward, parameter count.

    A subclass sets ``family``, ``config``, ``init_kwargs``, the dimensions, ``mapping`` and a
    ``synthesis`` module that has ``impl``, ``precision``, ``num_fp16_res`` and ``set_num_fp16_res``.
    """

    family: str
    config: str
    init_kwargs: dict[str, Any]
    z_dim: int
    w_dim: int
    c_dim: int
    num_ws: int
    img_resolution: int
    img_channels: int
    mapping: Any                        # the family's MappingNetwork
    synthesis: Any                      # the family's SynthesisNetwork (impl, precision, num_fp16_res)

    @property
    def impl(self) -> str:
        """The ``stylegan_ops`` implementation every layer uses ('ref' = the plain PyTorch reference)."""
        return str(self.synthesis.impl)

    @impl.setter
    def impl(self, value: str) -> None:
        value = check_impl(value)
        for module in self.modules():
            if "impl" in vars(module):
                module.impl = value  # type: ignore[assignment]  # a plain attribute of each layer

    @property
    def precision(self) -> str:
        """'auto' (fp16 layers in float16 on CUDA only), 'fp32' or 'fp16' (on every device)."""
        return str(self.synthesis.precision)

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in PRECISIONS:
            raise GeneratorInputError(f"precision {value!r} is unknown; use one of {', '.join(PRECISIONS)}")
        self.synthesis.precision = value

    @property
    def num_fp16_res(self) -> int:
        """How many of the highest resolutions are fp16 layers (official configs: 4; 0 = none)."""
        return int(self.synthesis.num_fp16_res)

    @num_fp16_res.setter
    def num_fp16_res(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise GeneratorInputError(f"num_fp16_res must be a whole number >= 0, got {value!r}")
        self.synthesis.set_num_fp16_res(int(value))

    def forward(self, z: Any, c: Any = None, truncation_psi: float = 1.0, truncation_cutoff: int | None = None,
                noise_mode: str = "const", transform: torch.Tensor | None = None, noise_gain: float = 1.0,
                force_fp32: bool = False) -> torch.Tensor:
        """Map then render: a float32 image ``[N, img_channels, R, R]``, unclamped."""
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, transform=transform, noise_gain=noise_gain,
                              force_fp32=force_fp32)

    def num_parameters(self) -> int:
        """Number of learned parameters (buffers not counted)."""
        return int(sum(p.numel() for p in self.parameters()))
